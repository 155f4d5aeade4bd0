import { mapFrame } from './source-lines.js';

/**
 * One value as log text: strings as they are, errors with their stack,
 * anything else as JSON (falling back to String for cycles, BigInt, undefined).
 */
export function formatValue(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return describeError(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `Name: message` and, when the engine recorded one, the stack below it. */
export function describeError(error) {
  const stack = typeof error.stack === 'string' ? tidyStack(error.stack) : '';
  return stack ? `${String(error)}\n${stack}` : String(error);
}

// The SDK's entry functions (serve.js, and runtime.js evaluating a bundle;
// `async*` once the handler awaited): the frames from them down are the SDK's
// and the bindings', never the script's.
const ENTRY_FRAME = /^(async\*)?(scripthostHandle|scripthostEvaluate)@/;

/**
 * A SpiderMonkey stack (`fn@path/file.js:line:column` per line) cut at the
 * SDK's entry, with locations mapped back to the script's own files (see
 * source-lines.js), and runs of one frame (deep recursion) folded into
 * `frame (xN)`.
 */
export function tidyStack(stack, table) {
  const frames = stack.trimEnd().split('\n');
  const entry = frames.findIndex((frame) => ENTRY_FRAME.test(frame));
  const folded = [];
  for (const frame of frames.slice(0, entry === -1 ? undefined : entry).map((frame) => mapFrame(frame, table))) {
    const last = folded.at(-1);
    if (last?.frame === frame) last.count++;
    else folded.push({ frame, count: 1 });
  }
  return folded.map(({ frame, count }) => (count > 1 ? `${frame} (x${count})` : frame)).join('\n');
}
