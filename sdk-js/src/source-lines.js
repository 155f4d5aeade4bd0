// Stack traces and build errors point into the bundle the build made, where
// the SDK comes before the script. The build appends a line table (bundle
// line -> source file and line) so they can name the line the author wrote.
// A runtime holds two: its own (the SDK's files) and the script's bundle's,
// installed when the bundle is evaluated and parsed only if a stack needs it.

const TABLES = Symbol.for('scripthost.sourceLines');

function tables() {
  globalThis[TABLES] ??= {};
  return globalThis[TABLES];
}

/** The statement the build appends to a bundle to install `table`. */
export function tableInstaller(table) {
  const key = JSON.stringify(TABLES.description);
  return `\n(globalThis[Symbol.for(${key})] ??= {})[${JSON.stringify(table.file)}] = ${JSON.stringify(table)};\n`;
}

/** Install the table of `file`, given as a function that makes it when first needed. */
export function installLazyTable(file, makeTable) {
  let table;
  Object.defineProperty(tables(), file, {
    configurable: true,
    enumerable: true,
    get: () => (table ??= makeTable()),
  });
}

/** `file:line` in the bundle as `source:line` in the original, or null when unknown. */
export function originalLocation(file, line, table = tables()[file]) {
  const entry = table?.file === file ? table.lines[line - 1] : null;
  return entry ? `${table.sources[entry[0]]}:${entry[1]}` : null;
}

/** A `fn@dir/file:line:column` frame (or a bare location) with its location mapped back. */
export function mapFrame(frame, table) {
  const [, prefix, file, line, column] = frame.match(/^(.*@)?(?:.*\/)?([^/@]+):(\d+):(\d+)$/) ?? [];
  if (!file) return frame;
  return `${prefix ?? ''}${originalLocation(file, Number(line), table ?? tables()[file]) ?? `${file}:${line}:${column}`}`;
}
