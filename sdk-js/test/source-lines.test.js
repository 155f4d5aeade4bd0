import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';
import { bundleLineTable, describeComponentizeFailure } from '../src/build.js';
import { mapFrame, originalLocation, tableInstaller } from '../src/source-lines.js';
import { tidyStack } from '../src/format.js';
import { scratchDir } from './support/scratch.js';

const TABLE = { file: 'home.js', sources: ['sdk/response.js', 'home.js'], lines: [null, [0, 7], [1, 3]] };

test('a bundle location maps to the source file and line', () => {
  assert.equal(originalLocation('home.js', 2, TABLE), 'sdk/response.js:7');
  assert.equal(originalLocation('home.js', 3, TABLE), 'home.js:3');
  assert.equal(originalLocation('home.js', 1, TABLE), null);
  assert.equal(originalLocation('other.js', 3, TABLE), null);
});

test('frames are mapped, or keep their location without directories', () => {
  assert.equal(mapFrame('handle@/tmp/scripthost-build-1/home.js:3:9', TABLE), 'handle@home.js:3');
  assert.equal(mapFrame('@home.js:2:1', TABLE), '@sdk/response.js:7');
  assert.equal(mapFrame('x@/tmp/a/sources/initializer.js:752:29', TABLE), 'x@initializer.js:752:29');
  assert.equal(mapFrame('not a frame', TABLE), 'not a frame');
  assert.equal(tidyStack('descend@/t/home.js:3:1\n'.repeat(3), TABLE), 'descend@home.js:3 (x3)');
});

test('the installer statement puts the table where the runtime looks', () => {
  new Function(tableInstaller(TABLE))();
  assert.equal(originalLocation('home.js', 3), 'home.js:3');
});

test("the line table follows esbuild's source map back to the script", async () => {
  const dir = await scratchDir('sdk-lines-test-');
  await writeFile(join(dir, 'helper.js'), 'export function twice(x) {\n  return x * 2;\n}\n');
  await writeFile(join(dir, 'home.js'), "import { twice } from './helper.js';\n\n\nexport function handle() {\n  return twice(21);\n}\n");
  const bundlePath = join(dir, 'out', 'home.js');
  const result = await esbuild.build({ entryPoints: [join(dir, 'home.js')], bundle: true, format: 'esm', write: false, outfile: bundlePath, sourcemap: 'external' });
  const code = result.outputFiles.find((file) => file.path.endsWith('.js')).text;
  const map = JSON.parse(result.outputFiles.find((file) => file.path.endsWith('.map')).text);
  const table = bundleLineTable(bundlePath, map, code, dir);
  const lineOf = (text) => code.split('\n').findIndex((line) => line.includes(text)) + 1;
  assert.equal(table.file, 'home.js');
  assert.equal(originalLocation('home.js', lineOf('return x * 2'), table), 'helper.js:2');
  assert.equal(originalLocation('home.js', lineOf('return twice(21)'), table), 'home.js:5');
});

test('a top-level exception at build time names the original line', () => {
  const message = 'Failed to initialize component (wizer):\nException while evaluating top-level script\nscripthost-build-a1/home.js:3:7 Error: bad init\n';
  assert.equal(describeComponentizeFailure(message, TABLE), "the script's top level threw: home.js:3 Error: bad init");
});
