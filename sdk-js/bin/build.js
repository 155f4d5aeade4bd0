#!/usr/bin/env node
// scripthost-build-js: build a script for scripthost.
//   scripthost-build-js --runtime -o js-runtime.wasm           the shared runtime
//   scripthost-build-js SCRIPT --bundle-for RUNTIME -o OUT      a bundle for it
//   scripthost-build-js SCRIPT -o OUT.wasm                      a component of its own
import { parseArgs } from 'node:util';
import { build, buildBundle, buildRuntime } from '../src/build.js';

const USAGE = 'usage: scripthost-build-js (--runtime | SCRIPT [--bundle-for RUNTIME.wasm]) -o OUT';

function parseCommandLine() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      runtime: { type: 'boolean' },
      'bundle-for': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.out || positionals.length !== (values.runtime ? 0 : 1)) throw new Error(USAGE);
  return { sourcePath: positionals[0], outPath: values.out, runtime: values.runtime, runtimePath: values['bundle-for'] };
}

function run({ runtime, runtimePath, sourcePath, outPath }) {
  if (runtime) return buildRuntime({ outPath });
  if (runtimePath) return buildBundle({ sourcePath, outPath, runtimePath });
  return build({ sourcePath, outPath });
}

try {
  const started = Date.now();
  const { outPath, bytes } = await run(parseCommandLine());
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const size = bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
  console.log(`built ${outPath} (${size}) in ${seconds} s`);
} catch (failure) {
  console.error(`error: ${String(failure.message).split('\n')[0]}`);
  process.exit(1);
}
