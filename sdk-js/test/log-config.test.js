import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { host } from '../test-support/fake-host.js';
import { loadSdk } from '../test-support/load.js';

const { config, log } = await loadSdk('index.js');

beforeEach(() => host.reset());

test('log helpers write one line with stringified fields', () => {
  log.info('home rendered', { user: '42', rows: 2, flags: ['a'], missing: undefined });
  log.warn('w');
  log.write('debug', 7);
  assert.deepEqual(host.lines, [
    { level: 'info', message: 'home rendered', fields: [['user', '42'], ['rows', '2'], ['flags', '["a"]'], ['missing', 'undefined']] },
    { level: 'warn', message: 'w', fields: [] },
    { level: 'debug', message: '7', fields: [] },
  ]);
});

test('config.get() returns the value, the fallback or null', () => {
  host.config = { greeting: 'Hello' };
  assert.equal(config.get('greeting'), 'Hello');
  assert.equal(config.get('greeting', 'Hi'), 'Hello');
  assert.equal(config.get('max_items', '3'), '3');
  assert.equal(config.get('max_items'), null);
});

test('config.all() is a plain object', () => {
  host.config = { a: '1', b: '2' };
  assert.deepEqual(config.all(), { a: '1', b: '2' });
});
