import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BUNDLE_FILE, HEADER_LINES, LINES_MARKER, compileBody, splitPayload } from '../src/bundle-payload.js';
import { BUNDLE_MAGIC, BuildError, buildBundle, functionBody } from '../src/build.js';
import { originalLocation } from '../src/source-lines.js';
import { scratchDir } from './support/scratch.js';

async function scriptFolder(files) {
  const dir = await scratchDir('sdk-bundle-test-');
  for (const [name, source] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), source);
  }
  const runtimePath = join(dir, 'runtime.wasm');
  await writeFile(runtimePath, 'a runtime');
  return { dir, runtimePath };
}

async function bundled(files, entry = 'home.js') {
  const { dir, runtimePath } = await scriptFolder(files);
  const outPath = join(dir, 'out.bundle');
  const result = await buildBundle({ sourcePath: join(dir, entry), outPath, runtimePath });
  const [magic, header, payload] = splitOnce(await readFile(outPath, 'utf8'));
  return { result, magic, header: JSON.parse(header), payload, dir };
}

function splitOnce(text) {
  const first = text.indexOf('\n');
  const second = text.indexOf('\n', first + 1);
  return [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
}

/** Evaluate a payload the way runtime.js does, with `sdk` as @scripthost/sdk. */
async function evaluate(payload, sdk) {
  const { code } = splitPayload(payload);
  const module = { exports: {} };
  const require = (name) => (name === '@scripthost/sdk' ? sdk : assert.fail(`require(${name})`));
  await compileBody(code)(require, module, module.exports);
  return module.exports;
}

test('an ES module becomes a function body, line for line', () => {
  const esm = [
    'import { json, text as t } from "@scripthost/sdk";',
    'import * as sdk from "@scripthost/sdk";',
    'import "@scripthost/sdk";',
    'function helper() {',
    '  return json(t(sdk));',
    '}',
    'export {',
    '  helper as handle',
    '};',
  ].join('\n');
  const body = functionBody(esm);
  assert.equal(body.split('\n').length, esm.split('\n').length);
  assert.match(body, /^const \{ json, text: t \} = require\("@scripthost\/sdk"\);$/m);
  assert.match(body, /^const sdk = require\("@scripthost\/sdk"\);$/m);
  assert.match(body, /^module\.exports = \{\n {2}handle: helper\n\};$/m);
});

test('a script with top-level await runs in an async function the body returns', async () => {
  const body = functionBody('const n = await Promise.resolve(2);\nexport { n as handle };\n');
  assert.match(body, /^return \(async \(\) => \{const n = await/);
  const module = { exports: {} };
  await compileBody(body)(() => ({}), module, module.exports);
  assert.equal(module.exports.handle, 2);
});

test('what cannot be a function body is a build error', () => {
  assert.throws(() => functionBody('export default 1;\n'), BuildError);
});

test('a bundle names its runtime, lists its files and holds a line table', async () => {
  const { result, magic, header, payload } = await bundled({
    'home.js': "import { json } from '@scripthost/sdk';\nimport { twice } from './lib/twice.js';\nexport function handle() {\n  return json(twice(21));\n}\n",
    'lib/twice.js': 'export function twice(x) {\n  return x * 2;\n}\n',
  });
  assert.equal(magic, BUNDLE_MAGIC);
  assert.equal(header.runtime.sha256, createHash('sha256').update('a runtime').digest('hex'));
  assert.equal(header.runtime.language, 'js');
  assert.equal(header.entry, 'home.js');
  assert.deepEqual(header.files.sort(), ['home.js', 'lib/twice.js']);
  assert.deepEqual(result.files.sort(), header.files);
  const { code, tableText } = splitPayload(payload);
  const table = JSON.parse(tableText);
  // As the engine counts them: the lines of the function it wraps the body in come first.
  const lineOf = (text) => code.split('\n').findIndex((line) => line.includes(text)) + 1 + HEADER_LINES;
  assert.equal(table.file, BUNDLE_FILE);
  assert.equal(originalLocation(BUNDLE_FILE, lineOf('return x * 2'), table), 'lib/twice.js:2');
  assert.equal(originalLocation(BUNDLE_FILE, lineOf('json(twice(21))'), table), 'home.js:4');
  assert.ok(payload.includes(LINES_MARKER));
});

test('the payload evaluates to the script, with the SDK from the runtime', async () => {
  const { payload } = await bundled({
    'home.js': "import { json } from '@scripthost/sdk';\nconst ready = await Promise.resolve('yes');\nexport const handle = () => json(ready);\n",
  });
  const exports = await evaluate(payload, { json: (value) => ({ wrapped: value }) });
  assert.deepEqual(exports.handle(), { wrapped: 'yes' });
});

test('editing only a helper changes the bundle', async () => {
  const files = { 'home.js': "import { n } from './n.js';\nexport const handle = () => n;\n", 'n.js': 'export const n = 1;\n' };
  const { dir, runtimePath } = await scriptFolder(files);
  const build = async () => {
    await buildBundle({ sourcePath: join(dir, 'home.js'), outPath: join(dir, 'out.bundle'), runtimePath });
    return readFile(join(dir, 'out.bundle'), 'utf8');
  };
  const before = await build();
  await writeFile(join(dir, 'n.js'), 'export const n = 2;\n');
  assert.notEqual(await build(), before);
});

test('a bundle without handle or with a missing import does not build', async () => {
  await assert.rejects(bundled({ 'home.js': 'export function other() {}\n' }), /home\.js must export a function handle\(req\)/);
  await assert.rejects(bundled({ 'home.js': "import x from './nowhere.js';\nexport const handle = () => x;\n" }), /Could not resolve "\.\/nowhere\.js"/);
});
