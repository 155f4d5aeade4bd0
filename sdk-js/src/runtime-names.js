// What the build and the runtime agree on about a bundle's payload.

/** The name the evaluated bundle carries in stack traces (its line table's `file`). */
export const BUNDLE_FILE = 'bundle.js';

/** Ends the code of a bundle payload; the bundle's line table (JSON) follows it. */
export const LINES_MARKER = '\n//# scripthost-lines ';
