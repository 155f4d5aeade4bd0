import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { err, host, ok } from '../test-support/fake-host.js';
import { loadSdk } from '../test-support/load.js';

const { backend, BackendError, BackendResponse } = await loadSdk('index.js');
const utf8 = (text) => new TextEncoder().encode(text);

beforeEach(() => host.reset());

test('request() builds the ABI record with defaults', () => {
  assert.deepEqual(backend.request('profile', '/users/42'), {
    service: 'profile',
    method: 'GET',
    path: '/users/42',
    headers: [],
    body: new Uint8Array(),
    timeoutMs: undefined,
  });
});

test('request() appends an encoded query to the path', () => {
  assert.equal(backend.request('s', '/search', { query: { q: 'a&b c', n: '2' } }).path, '/search?q=a%26b+c&n=2');
  assert.equal(backend.request('s', '/search?x=1', { query: [['q', 'é']] }).path, '/search?x=1&q=%C3%A9');
  assert.equal(backend.request('s', '/plain', { query: {} }).path, '/plain');
});

test('request() sends an object body as JSON and a string as text', () => {
  const asJson = backend.request('s', '/p', { method: 'post', body: { a: 1 } });
  assert.equal(asJson.method, 'POST');
  assert.deepEqual(asJson.headers, [['content-type', 'application/json']]);
  assert.deepEqual(asJson.body, utf8('{"a":1}'));
  const asText = backend.request('s', '/p', { body: 'hi', headers: { 'Content-Type': 'text/csv' } });
  assert.deepEqual(asText.headers, [['content-type', 'text/csv']]);
});

test('request() refuses a timeout the ABI cannot carry', () => {
  assert.equal(backend.request('s', '/', { timeoutMs: 250 }).timeoutMs, 250);
  assert.throws(() => backend.request('s', '/', { timeoutMs: -1 }), RangeError);
  assert.throws(() => backend.request('s', '/', { timeoutMs: 1.5 }), RangeError);
  assert.throws(() => backend.request('s', '/', { timeoutMs: 2 ** 32 }), RangeError);
});

test('get() returns the response, whatever its status', () => {
  host.answer = () => ok({ status: 404, headers: [['content-type', 'application/json']], body: utf8('{"error":"no"}') });
  const response = backend.get('profile', '/users/9', { timeoutMs: 100 });
  assert.ok(response instanceof BackendResponse);
  assert.equal(response.status, 404);
  assert.equal(response.ok, false);
  assert.equal(response.header('Content-Type'), 'application/json');
  assert.equal(response.text(), '{"error":"no"}');
  assert.deepEqual(response.json(), { error: 'no' });
  assert.deepEqual(host.calls, [backend.request('profile', '/users/9', { timeoutMs: 100 })]);
});

test('post() sends the body', () => {
  backend.post('audit', '/events', { seen: true });
  assert.equal(host.calls[0].method, 'POST');
  assert.deepEqual(host.calls[0].body, utf8('{"seen":true}'));
});

test('fetch() accepts a request built by request()', () => {
  backend.fetch(backend.request('s', '/x', { method: 'PUT', body: 'b' }));
  assert.equal(host.calls[0].method, 'PUT');
  assert.deepEqual(host.calls[0].headers, [['content-type', 'text/plain; charset=utf-8']]);
});

test('a typed backend error is thrown as a BackendError', () => {
  host.answer = () => err('unavailable', 'connection refused');
  assert.throws(
    () => backend.get('profile', '/users/1'),
    (thrown) => {
      assert.ok(thrown instanceof BackendError && thrown instanceof Error);
      assert.equal(thrown.kind, 'unavailable');
      assert.equal(thrown.message, 'connection refused');
      assert.equal(String(thrown), 'BackendError: unavailable: connection refused');
      return true;
    },
  );
});

test('an exception that is not a backend error passes through', () => {
  host.answer = () => {
    throw new TypeError('bad record');
  };
  assert.throws(() => backend.get('s', '/'), { name: 'TypeError', message: 'bad record' });
});

test('batch() returns responses and errors in order, without throwing', () => {
  host.answer = (request) => (request.service === 'down' ? err('timeout', 'too slow') : ok({ status: 200, headers: [], body: utf8('1') }));
  const [first, second] = backend.batch([backend.request('up', '/a'), { service: 'down', path: '/b' }]);
  assert.equal(first.json(), 1);
  assert.ok(second instanceof BackendError);
  assert.equal(second.kind, 'timeout');
  assert.equal(host.batches.length, 1);
  assert.equal(host.batches[0][1].method, 'GET');
});

test('an empty batch does not call the host', () => {
  assert.deepEqual(backend.batch([]), []);
  assert.equal(host.batches.length, 0);
});
