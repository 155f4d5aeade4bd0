// Stack traces and build errors point into the bundle the build made, where
// the SDK comes before the script. The build appends a line table (bundle
// line -> source file and line) so they can name the line the author wrote.

const TABLE = Symbol.for('scripthost.sourceLines');

/** The statement the build appends to the bundle to install `table`. */
export function tableInstaller(table) {
  return `\nglobalThis[Symbol.for(${JSON.stringify(TABLE.description)})] = ${JSON.stringify(table)};\n`;
}

/** `file:line` in the bundle as `source:line` in the original, or null when unknown. */
export function originalLocation(file, line, table = globalThis[TABLE]) {
  const entry = table?.file === file ? table.lines[line - 1] : null;
  return entry ? `${table.sources[entry[0]]}:${entry[1]}` : null;
}

/** A `fn@dir/file:line:column` frame (or a bare location) with its location mapped back. */
export function mapFrame(frame, table) {
  const [, prefix, file, line, column] = frame.match(/^(.*@)?(?:.*\/)?([^/@]+):(\d+):(\d+)$/) ?? [];
  if (!file) return frame;
  return `${prefix ?? ''}${originalLocation(file, Number(line), table) ?? `${file}:${line}:${column}`}`;
}
