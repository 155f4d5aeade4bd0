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

/** How a bundle names the runtime it runs on. */
export interface RuntimeId {
  language: 'js';
  sdk: string;
  abi: string;
  sha256: string;
}

/** Build the shared JavaScript runtime (the engine and this SDK) into `outPath`. */
export function buildRuntime(options: { outPath: string }): Promise<{ outPath: string; bytes: number }>;

/**
 * Bundle the script at `sourcePath` (with its relative imports and npm
 * packages) for the runtime component at `runtimePath`, into `outPath`.
 * Throws `BuildError` for a script that does not build.
 */
export function buildBundle(options: {
  sourcePath: string;
  outPath: string;
  runtimePath: string;
}): Promise<{ outPath: string; bytes: number; files: string[]; runtime: RuntimeId }>;
