// Adversarial: spins forever without calling the host; only fuel or the
// wall-clock deadline stops it.
export function handle() {
  let spins = 0;
  for (;;) spins++;
}
