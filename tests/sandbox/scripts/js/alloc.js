// Adversarial: allocates without bound and keeps everything reachable.
// Default: 1 MiB typed arrays, which reach the memory limit quickly;
// `?shape=objects`: small objects, where the garbage collector's work
// burns fuel long before memory runs out.
export function handle(req) {
  const allocate = req.params.get('shape') === 'objects'
    ? (i) => ({ i, label: `item ${i}` })
    : () => new Uint8Array(1 << 20);
  const hoard = [];
  for (let i = 0; ; i++) hoard.push(allocate(i));
}
