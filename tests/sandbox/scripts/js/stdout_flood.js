// Adversarial: writes to stdout forever; the SDK sends console.log to the
// request log, whose volume limit must stop it.
export function handle() {
  for (let line = 0; ; line++) console.log(`flood line ${line}: ${'x'.repeat(100)}`);
}
