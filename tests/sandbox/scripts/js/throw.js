// Adversarial: an exception the script does not catch.
export function handle() {
  throw new Error('kaboom');
}
