// Formatting kept apart from the handler.
export function greeting(name) {
  return `Hello, ${name}!`;
}
