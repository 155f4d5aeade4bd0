import assert from 'node:assert/strict';
import { test } from 'node:test';
import { host } from '../test-support/fake-host.js';
import { loadSdk } from '../test-support/load.js';

// A file of its own: the console opens once per process, at the first request.
const { installGlobals } = await loadSdk('globals.js');
const { serve } = await loadSdk('serve.js');
const { json } = await loadSdk('index.js');

const fakeGlobal = () => ({ console: {}, performance: {}, crypto: {} });

test('installGlobals() drops console output until the first request', async () => {
  const global = fakeGlobal();
  installGlobals(global);
  global.console.log('at build time');
  assert.deepEqual(host.lines, []);
  await serve(() => json(null))({ requestId: 'r-1' });
  global.console.log('at request time');
  assert.deepEqual(host.lines, [{ level: 'info', message: 'at request time', fields: [] }]);
});

test('installGlobals() replaces what the sandbox lacks with a clear error', () => {
  const global = fakeGlobal();
  installGlobals(global);
  assert.throws(() => global.fetch('http://x'), /fetch\(\) is not available in scripthost: call a named service with backend.fetch\(\)/);
  assert.throws(() => global.setTimeout(() => {}, 1), /no timers/);
  assert.throws(() => global.performance.now(), /no clock/);
  assert.throws(() => global.crypto.getRandomValues(new Uint8Array(1)), /no source of secure randomness/);
});

test('each request reseeds Math.random from its request id', async () => {
  const draw = serve(() => json([Math.random(), Math.random()]));
  const numbers = async (requestId) => JSON.parse(new TextDecoder().decode((await draw({ requestId })).body));
  const first = await numbers('req-a');
  assert.deepEqual(await numbers('req-a'), first);
  assert.notDeepEqual(await numbers('req-b'), first);
});

test('a request the runtime has begun draws on from the sequence its top level started', async () => {
  const { beginRequest } = await loadSdk('globals.js');
  const draw = serve(() => json([Math.random()]));
  const drawn = async (begun) => JSON.parse(new TextDecoder().decode((await draw({ requestId: 'req-c' }, begun)).body))[0];
  beginRequest('req-c');
  const [topLevel, next] = [Math.random(), Math.random()];
  beginRequest('req-c');
  Math.random();
  assert.equal(await drawn(true), next);
  assert.equal(await drawn(false), topLevel);
});
