// node build_wasi_js.mjs SCRIPT OUT: componentize a script against the ABI
// world with componentize-js's WASI features on (only HTTP off), the way a
// toolchain other than the SDK would build it. Uses the SDK's componentize-js.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO = resolve(import.meta.dirname, '..', '..');
const ENTRY = 'sdk-js/node_modules/@bytecodealliance/componentize-js/src/componentize.js';
const { componentize } = await import(pathToFileURL(resolve(REPO, ENTRY)).href);

const [sourcePath, outPath] = process.argv.slice(2);
const { component } = await componentize({
  sourcePath: resolve(sourcePath),
  witPath: resolve(REPO, 'abi', 'wit'),
  worldName: 'endpoint',
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(outPath, component);
