#!/usr/bin/env node
// scripthost-build-js SCRIPT -o OUT.wasm: build a script into a component.
import { parseArgs } from 'node:util';
import { build } from '../src/build.js';

const USAGE = 'usage: scripthost-build-js SCRIPT -o OUT.wasm';

function parseCommandLine() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1 || !values.out) throw new Error(USAGE);
  return { sourcePath: positionals[0], outPath: values.out };
}

try {
  const started = Date.now();
  const { outPath, bytes } = await build(parseCommandLine());
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`built ${outPath} (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${seconds} s`);
} catch (failure) {
  console.error(`error: ${String(failure.message).split('\n')[0]}`);
  process.exit(1);
}
