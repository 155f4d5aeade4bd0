import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Request } from '../src/request.js';

const RAW = {
  method: 'POST',
  path: '/home',
  query: 'user=42&tag=a&tag=b&name=J%C3%BCrgen+K',
  headers: [['content-type', 'application/json'], ['x-multi', '1'], ['x-multi', '2']],
  body: new TextEncoder().encode('{"a":[1]}'),
  endpoint: 'tv/home',
  version: 'v7',
  requestId: 'req-1',
};

test('the raw fields are kept as they are', () => {
  const req = new Request(RAW);
  assert.deepEqual(
    [req.method, req.path, req.query, req.endpoint, req.version, req.requestId],
    ['POST', '/home', RAW.query, 'tv/home', 'v7', 'req-1'],
  );
  assert.deepEqual(req.headers, RAW.headers);
});

test('params parses the query string', () => {
  const { params } = new Request(RAW);
  assert.equal(params.get('user'), '42');
  assert.deepEqual(params.getAll('tag'), ['a', 'b']);
  assert.equal(params.get('name'), 'Jürgen K');
  assert.equal(params.get('missing'), null);
});

test('header() is case-insensitive and returns the first value or null', () => {
  const req = new Request(RAW);
  assert.equal(req.header('Content-Type'), 'application/json');
  assert.equal(req.header('x-multi'), '1');
  assert.equal(req.header('accept'), null);
});

test('text() and json() read the body', () => {
  const req = new Request(RAW);
  assert.equal(req.text(), '{"a":[1]}');
  assert.deepEqual(req.json(), { a: [1] });
  assert.throws(() => new Request({ body: 'not json' }).json(), SyntaxError);
});

test('a test can build a request from a few fields', () => {
  const req = new Request({ query: 'user=7', headers: { Accept: 'text/html' }, body: 'hi' });
  assert.equal(req.method, 'GET');
  assert.equal(req.path, '/');
  assert.equal(req.params.get('user'), '7');
  assert.equal(req.header('accept'), 'text/html');
  assert.equal(req.text(), 'hi');
});
