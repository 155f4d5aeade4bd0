import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { host } from '../test-support/fake-host.js';
import { loadSdk } from '../test-support/load.js';

const { serve } = await loadSdk('serve.js');
const { routeConsole } = await loadSdk('console.js');
const { json } = await loadSdk('index.js');

const RAW = { method: 'GET', path: '/home', query: 'user=42', headers: [], body: new Uint8Array(), endpoint: 'tv/home', version: 'v1', requestId: 'r-1' };
const decode = (bytes) => new TextDecoder().decode(bytes);

beforeEach(() => host.reset());

test('serve() gives the handler a Request and returns the ABI response', async () => {
  const handle = serve((req) => json({ user: req.params.get('user'), id: req.requestId }));
  const raw = await handle(RAW);
  assert.equal(raw.status, 200);
  assert.equal(decode(raw.body), '{"user":"42","id":"r-1"}');
});

test('serve() awaits an async handler and normalises a plain object', async () => {
  const handle = serve(async () => ({ status: 201, body: { made: true } }));
  const raw = await handle(RAW);
  assert.deepEqual([raw.status, raw.headers, decode(raw.body)], [201, [['content-type', 'application/json']], '{"made":true}']);
});

test('serve() rethrows anything as a {kind, message} guest error', async () => {
  const handle = serve(() => {
    throw new Error('kaboom');
  });
  await assert.rejects(handle(RAW), (thrown) => {
    assert.equal(thrown.kind, 'exception');
    assert.match(thrown.message, /^Error: kaboom\n/);
    assert.ok(!(thrown instanceof Error));
    return true;
  });
});

test('an invalid response is a guest error too', async () => {
  await assert.rejects(serve(() => undefined)(RAW), { kind: 'exception', message: /handle must return a response/ });
});

test('serve() refuses a handle that is not a function', () => {
  assert.throws(() => serve(undefined), /must export a function handle\(req\), not undefined/);
});

test('console methods go to the log at their level, arguments joined', () => {
  const lines = [];
  const console = {};
  routeConsole(console, (level, message) => lines.push([level, message]));
  console.log('rows', 3, { a: 1 });
  console.info('i');
  console.warn('w');
  console.error(new Error('bad'));
  console.debug('d');
  assert.deepEqual(lines.slice(0, 3), [['info', 'rows 3 {"a":1}'], ['info', 'i'], ['warn', 'w']]);
  assert.equal(lines[3][0], 'error');
  assert.match(lines[3][1], /^Error: bad\n/);
  assert.deepEqual(lines[4], ['debug', 'd']);
});
