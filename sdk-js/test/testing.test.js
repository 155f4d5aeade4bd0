import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../test-support/register.js';

const { FakeHost, BackendError, BackendResponse } = await import('@scripthost/sdk/testing');
const { handle } = await import('../fixtures/card.js');

test('canned answers, config and log capture', async () => {
  const host = new FakeHost({
    config: { prefix: '» ' },
    backends: {
      'cards /cards/7': { json: { title: 'Dune' } },
      'extras /extras?id=7': new BackendResponse({ status: 200, headers: [], body: new TextEncoder().encode('[1]') }),
    },
  });
  const response = await host.run(handle, { path: '/card', query: 'id=7' });
  assert.equal(response.status, 200);
  assert.equal(response.header('content-type'), 'application/json');
  assert.deepEqual(response.json(), { title: '» Dune', extra: [1] });
  assert.deepEqual(host.calls.map((call) => `${call.method} ${call.service} ${call.path}`), [
    'GET cards /cards/7',
    'GET extras /extras?id=7',
  ]);
  assert.equal(host.batches.length, 1);
  assert.deepEqual(host.logs, [
    { level: 'info', message: 'card shown', fields: { id: '7', extra: 'true' } },
    { level: 'info', message: 'printed', fields: {} },
  ]);
});

test('function answers and typed errors', async () => {
  const host = new FakeHost({
    backends: { 'cards /cards/1': new BackendError('unavailable', 'down') },
    handler: (call) => ({ status: 404, body: `no ${call.path}` }),
  });
  const response = await host.run(handle, { query: 'id=1' });
  assert.equal(response.status, 502);
  assert.deepEqual(response.json(), { error: 'unavailable' });
  assert.equal(host.calls.length, 2);
});

test('an unanswered call is an unknown service, and what the script throws is thrown', async () => {
  const host = new FakeHost();
  const response = await host.run(handle, { query: 'id=3' });
  assert.deepEqual(response.json(), { error: 'unknown-service' });
  await assert.rejects(host.run(() => { throw new Error('kaboom'); }), /kaboom/);
  await assert.rejects(host.run(() => 'not a response'), /handle must return a response/);
});
