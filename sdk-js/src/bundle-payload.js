// The payload of a JavaScript bundle, as the build writes it and the runtime
// reads it: an ES module's code made a function body (see build.js), then the
// line table after a marker.

/** The name the evaluated bundle carries in stack traces (its line table's `file`). */
export const BUNDLE_FILE = 'bundle.js';

/** Ends the code of a bundle payload; the bundle's line table (JSON) follows it. */
export const LINES_MARKER = '\n//# scripthost-lines ';

/** `{code, tableText}`; `tableText` is null when the payload has no line table. */
export function splitPayload(payload) {
  const at = payload.lastIndexOf(LINES_MARKER);
  if (at === -1) return { code: payload, tableText: null };
  return { code: payload.slice(0, at), tableText: payload.slice(at + LINES_MARKER.length) };
}

/**
 * The source `eval` turns into the bundle's function of `(require, module,
 * exports)`: strict (the code was a module's), async (so top-level await
 * works), and sharing the first line with the code, so line numbers are the
 * bundle's own.
 */
export function functionSource(code) {
  return `(async function (require, module, exports) {"use strict";${code}\n})\n//# sourceURL=${BUNDLE_FILE}`;
}
