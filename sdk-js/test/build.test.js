import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BuildError, build, describeComponentizeFailure, entrySource } from '../src/build.js';
import { scratchDir } from './support/scratch.js';

async function scriptFile(name, source) {
  const dir = await scratchDir('sdk-build-test-');
  const path = join(dir, name);
  await writeFile(path, source);
  return { path, out: join(dir, 'out.wasm') };
}

// These fail in the bundling step, before the slow componentize step.
async function buildError(name, source) {
  const { path, out } = await scriptFile(name, source);
  const error = await build({ sourcePath: path, outPath: out }).then(
    () => assert.fail('the build should have failed'),
    (thrown) => thrown,
  );
  assert.ok(error instanceof BuildError, String(error));
  assert.doesNotMatch(error.message, /\n/);
  return error.message;
}

test('the entry sets up the SDK before the script and exports handle', () => {
  const lines = entrySource('/scripts/home.js').split('\n');
  assert.match(lines[0], /setup\.js";$/);
  assert.match(lines.at(-2), /import \* as script from "\/scripts\/home\.js";/);
  assert.equal(lines.at(-1), 'export const handle = serve(script.handle);');
});

test('a syntax error is one line with its location', async () => {
  const message = await buildError('broken.js', 'export function handle() {\n  return { status: 200 \n  let x = ;\n}\n');
  assert.match(message, /broken\.js:3:3: Expected "}" but found "let"/);
});

test('a script without a handle export says so', async () => {
  assert.match(await buildError('other.js', 'export function other() {}\n'), /other\.js must export a function handle\(req\)$/);
  assert.match(await buildError('none.js', 'function handle() {}\n'), /none\.js must export a function handle\(req\)$/);
});

test('a Node built-in cannot be bundled', async () => {
  assert.match(await buildError('fs.js', 'import fs from "fs";\nexport const handle = () => fs;\n'), /Could not resolve "fs"/);
});

test('a missing script is named', async () => {
  const error = await build({ sourcePath: '/nonexistent/home.js', outPath: '/tmp/unused.wasm' }).catch((thrown) => thrown);
  assert.ok(error instanceof BuildError);
  assert.equal(error.message, 'no such script: /nonexistent/home.js');
});

test('componentize failures are reduced to the line naming the cause', () => {
  const importCall = "Failed to initialize component (wizer (/x/wizer)):\n    1: Error: attempted to call an unknown imported function: 'scripthost:abi/config@0.1.1' 'get'\n\nYou cannot call";
  assert.match(describeComponentizeFailure(importCall), /calls scripthost:abi\/config@0.1.1 get at module top level/);
  const topLevel = 'Failed to initialize component (wizer (/x/wizer)):\nException while evaluating top-level script\nscripthost-build-a1/home.js:191:7 Error: bad init\nAdditionally, ...';
  assert.equal(describeComponentizeFailure(topLevel), "the script's top level threw: home.js:191:7 Error: bad init");
});
