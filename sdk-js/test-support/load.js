// Import SDK modules with their ABI imports resolved to the fake host. The
// hook must be registered before those modules are linked, hence the
// dynamic import: `const { backend } = await loadSdk('index.js')`.
import './register.js';

/** The SDK module `src/<name>`. */
export function loadSdk(name) {
  return import(new URL(`../src/${name}`, import.meta.url).href);
}
