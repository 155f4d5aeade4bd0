// The payload of a JavaScript bundle, as the build writes it and the runtime
// reads it: an ES module's code made a function body (see build.js), then the
// line table after a marker.

/** The name the evaluated bundle carries in stack traces (its line table's `file`). */
export const BUNDLE_FILE = 'bundle.js';

/** Ends the code of a bundle payload; the bundle's line table (JSON) follows it. */
export const LINES_MARKER = '\n//# scripthost-lines ';

/**
 * Lines the engine counts before the body of a function made by `new
 * Function`: the `function anonymous(...\n) {\n` it wraps the body in (the
 * language's own rule, CreateDynamicFunction). The line table starts with as
 * many empty entries, so engine line numbers index it directly.
 */
export const HEADER_LINES = 2;

/** `{code, tableText}`; `tableText` is null when the payload has no line table. */
export function splitPayload(payload) {
  const at = payload.lastIndexOf(LINES_MARKER);
  if (at === -1) return { code: payload, tableText: null };
  return { code: payload.slice(0, at), tableText: payload.slice(at + LINES_MARKER.length) };
}

/**
 * The bundle's function of `(require, module, exports)`: strict (the code was
 * a module's). `new Function` compiles less than an `eval` of the same text
 * would. A script with top-level await returns a promise (see build.js).
 */
export function compileBody(code) {
  return new Function('require', 'module', 'exports', `"use strict";${code}\n//# sourceURL=${BUNDLE_FILE}`);
}
