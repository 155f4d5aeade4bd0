import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toGuestError } from '../src/guest-error.js';
import { formatValue, tidyStack } from '../src/format.js';

// What SpiderMonkey throws; V8 (running these tests) has no InternalError.
function internalError(message) {
  return Object.assign(new Error(message), { name: 'InternalError' });
}

test('an uncaught Error is an exception with its name, message and stack', () => {
  const error = new TypeError('x is not a function');
  error.stack = 'handle@/tmp/scripthost-build-1/home.js:12:3\nexport_handle@/tmp/a/sources/initializer.js:752:29\n';
  assert.deepEqual(toGuestError(error), {
    kind: 'exception',
    message: 'TypeError: x is not a function\nhandle@home.js:12:3\nexport_handle@initializer.js:752:29',
  });
});

test('too much recursion is a stack overflow', () => {
  assert.equal(toGuestError(internalError('too much recursion')).kind, 'stack-overflow');
});

test('a failed allocation is out of memory', () => {
  assert.deepEqual(toGuestError('out of memory'), { kind: 'out-of-memory', message: 'uncaught out of memory' });
  assert.equal(toGuestError(internalError('allocation size overflow')).kind, 'out-of-memory');
});

test('a thrown value that is not an Error is described as JSON', () => {
  assert.deepEqual(toGuestError({ code: 7 }), { kind: 'exception', message: 'uncaught {"code":7}' });
  assert.deepEqual(toGuestError(undefined), { kind: 'exception', message: 'uncaught undefined' });
});

test('the guest error is a plain object, which the bindings turn into err', () => {
  const guestError = toGuestError(new Error('boom'));
  assert.equal(Object.getPrototypeOf(guestError), Object.prototype);
});

test('a description that fails still yields a guest error', () => {
  const hostile = {
    toJSON() {
      throw new Error('no');
    },
    toString() {
      throw new Error('no');
    },
  };
  assert.deepEqual(toGuestError(hostile), { kind: 'exception', message: 'uncaught exception' });
});

test('tidyStack drops the frames of the SDK and the bindings', () => {
  const stack = 'render@/t/home.js:9:1\nhandle@/t/home.js:4:1\nscripthostHandle@/t/home.js:200:34\nexport_handle@/s/initializer.js:752:29\n';
  assert.equal(tidyStack(stack), 'render@home.js:9:1\nhandle@home.js:4:1');
  const afterAwait = 'handle@/t/home.js:4:1\nasync*scripthostHandle@/t/home.js:200:34\n';
  assert.equal(tidyStack(afterAwait), 'handle@home.js:4:1');
});

test('tidyStack folds a recursion into one frame with a count', () => {
  const stack = 'descend@/tmp/x/r.js:3:10\n'.repeat(128) + 'handle@/tmp/x/r.js:7:10\n';
  assert.equal(tidyStack(stack), 'descend@r.js:3:10 (x128)\nhandle@r.js:7:10');
});

test('formatValue writes strings as they are and other values as JSON', () => {
  assert.equal(formatValue('plain'), 'plain');
  assert.equal(formatValue(3), '3');
  assert.equal(formatValue({ a: [true] }), '{"a":[true]}');
  assert.equal(formatValue(undefined), 'undefined');
  assert.equal(formatValue(10n), '10');
  const cycle = {};
  cycle.self = cycle;
  assert.equal(formatValue(cycle), '[object Object]');
});
