import { describeError, formatValue } from './format.js';

/**
 * The ABI's guest-error for anything a handler threw. The bindings turn a
 * thrown plain `{kind, message}` object into `err(guest-error)`; a thrown
 * Error instance would trap instead, which is why nothing else escapes.
 */
export function toGuestError(thrown) {
  try {
    return { kind: guestErrorKind(thrown), message: describeThrown(thrown) };
  } catch {
    // Describing can fail again when memory is what ran out.
    return { kind: thrown === OUT_OF_MEMORY ? 'out-of-memory' : 'exception', message: 'uncaught exception' };
  }
}

// SpiderMonkey throws this bare string, not an Error, when an allocation fails.
const OUT_OF_MEMORY = 'out of memory';

function guestErrorKind(thrown) {
  if (thrown === OUT_OF_MEMORY) return 'out-of-memory';
  if (thrown?.name === 'InternalError' && /too much recursion/.test(thrown.message)) return 'stack-overflow';
  if (thrown?.name === 'InternalError' && /allocation size overflow/.test(thrown.message)) return 'out-of-memory';
  return 'exception';
}

function describeThrown(thrown) {
  if (thrown instanceof Error) return describeError(thrown);
  return `uncaught ${formatValue(thrown)}`;
}
