// A helper in a file of its own.
export function shout(text) {
  return text.toUpperCase() + '!';
}
