// Adversarial: unbounded recursion the script does not catch.
function descend(depth) {
  return descend(depth + 1) + 1;
}

export function handle() {
  return descend(0);
}
