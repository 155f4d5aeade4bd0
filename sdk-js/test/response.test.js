import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, text, toRawResponse } from '../src/response.js';

const decode = (bytes) => new TextDecoder().decode(bytes);

test('json() sets the content type and encodes the value', () => {
  const response = json({ greeting: 'héllo' }, { status: 201, headers: { 'X-Trace': 'a' } });
  assert.equal(response.status, 201);
  assert.deepEqual(response.headers, [['content-type', 'application/json'], ['x-trace', 'a']]);
  assert.equal(decode(response.body), '{"greeting":"héllo"}');
});

test("json() keeps the caller's content type", () => {
  const response = json([], { headers: [['Content-Type', 'application/vnd.api+json']] });
  assert.deepEqual(response.headers, [['content-type', 'application/vnd.api+json']]);
});

test('json(undefined) is null, not an empty body', () => {
  assert.equal(decode(json(undefined).body), 'null');
});

test('text() is UTF-8 text/plain with status 200', () => {
  const response = text('ok ✓');
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers, [['content-type', 'text/plain; charset=utf-8']]);
  assert.equal(decode(response.body), 'ok ✓');
});

test('a plain object with an object body becomes JSON', () => {
  const raw = toRawResponse({ body: { rows: [1, 2] } });
  assert.equal(raw.status, 200);
  assert.deepEqual(raw.headers, [['content-type', 'application/json']]);
  assert.equal(decode(raw.body), '{"rows":[1,2]}');
});

test('a plain object with a string body becomes text unless it names its type', () => {
  assert.deepEqual(toRawResponse({ body: 'hi' }).headers, [['content-type', 'text/plain; charset=utf-8']]);
  const html = toRawResponse({ status: 404, headers: { 'content-type': 'text/html' }, body: '<p>gone</p>' });
  assert.deepEqual(html.headers, [['content-type', 'text/html']]);
  assert.equal(html.status, 404);
});

test('binary and empty bodies pass through without a content type', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  assert.equal(toRawResponse({ body: bytes }).body, bytes);
  assert.deepEqual(toRawResponse({ body: new Uint16Array([0x0101]) }).body, new Uint8Array([1, 1]));
  assert.deepEqual(toRawResponse({ status: 204 }), { status: 204, headers: [], body: new Uint8Array() });
});

test('header values are strings and names lower-case', () => {
  const raw = toRawResponse({ headers: new Map([['Cache-Control', 'no-store'], ['X-Count', 3]]) });
  assert.deepEqual(raw.headers, [['cache-control', 'no-store'], ['x-count', '3']]);
});

test('anything the host would refuse is a TypeError naming the problem', () => {
  assert.throws(() => toRawResponse(undefined), /handle must return a response .*not undefined/);
  assert.throws(() => toRawResponse('hello'), /not string/);
  assert.throws(() => toRawResponse(null), /not null/);
  assert.throws(() => toRawResponse({ status: 700 }), /from 100 to 599, not 700/);
  assert.throws(() => toRawResponse({ status: '200' }), /not 200/);
});
