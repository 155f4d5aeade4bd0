/** A build that failed because of the script; `message` is one line for its author. */
export class BuildError extends Error {
  readonly name: 'BuildError';
}

/**
 * Compile the script at `sourcePath` (a module exporting `handle`) into a
 * WebAssembly component written to `outPath`. Throws `BuildError` for a
 * script that does not build.
 */
export function build(options: { sourcePath: string; outPath: string }): Promise<{ outPath: string; bytes: number }>;
