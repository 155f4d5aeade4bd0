// Build a script into a WebAssembly component: bundle it with the SDK behind
// a generated entry (esbuild), then snapshot it into the engine (componentize-js).
import { componentize } from '@bytecodealliance/componentize-js';
import * as esbuild from 'esbuild';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK_SRC = dirname(fileURLToPath(import.meta.url));
const WIT_DIR = join(SDK_SRC, '..', 'wit');
const WORLD = 'endpoint';
// No WASI at all: the component imports only the scripthost interfaces.
const DISABLED_FEATURES = ['random', 'stdio', 'clocks', 'http', 'fetch-event'];
// Syntax the engine's SpiderMonkey runs natively; esbuild lowers anything newer.
const TARGET = 'es2024';

/** A build that failed because of the script; `message` is one line for its author. */
export class BuildError extends Error {
  name = 'BuildError';
}

/** Compile the script at `sourcePath` into a component written to `outPath`. */
export async function build({ sourcePath, outPath }) {
  const source = resolve(sourcePath);
  await access(source).catch(() => {
    throw new BuildError(`no such script: ${sourcePath}`);
  });
  const workDir = await mkdtemp(join(tmpdir(), 'scripthost-build-'));
  try {
    // Named after the script so that stack traces read `handle@home.js:12:3`.
    const bundlePath = join(workDir, basename(source).replace(/\.[cm]?[jt]s$/, '') + '.js');
    await writeFile(bundlePath, await bundle(source));
    const component = await componentizeBundle(bundlePath);
    await mkdir(dirname(resolve(outPath)), { recursive: true });
    await writeFile(outPath, component);
    return { outPath, bytes: component.length };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The entry module: SDK setup first (globals), then the script, then `handle`. */
export function entrySource(scriptPath) {
  return [
    `import ${JSON.stringify(join(SDK_SRC, 'setup.js'))};`,
    `import { serve } from ${JSON.stringify(join(SDK_SRC, 'serve.js'))};`,
    `import * as script from ${JSON.stringify(scriptPath)};`,
    `export const handle = serve(script.handle);`,
  ].join('\n');
}

async function bundle(scriptPath) {
  const result = await esbuild
    .build({
      stdin: { contents: entrySource(scriptPath), resolveDir: dirname(scriptPath), sourcefile: 'scripthost-entry.js' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: TARGET,
      external: ['scripthost:abi/*'],
      // One copy of the SDK, whatever the script's own node_modules hold.
      alias: { '@scripthost/sdk': join(SDK_SRC, 'index.js') },
      // `script.handle` missing is a mistake, not a warning.
      logOverride: { 'import-is-undefined': 'error' },
      logLevel: 'silent',
    })
    .catch((failure) => {
      throw new BuildError(describeEsbuildFailure(failure, scriptPath));
    });
  return result.outputFiles[0].text;
}

/** The first esbuild error as `file:line:column: text`, or what a missing `handle` means. */
export function describeEsbuildFailure(failure, scriptPath) {
  const [first, ...rest] = failure.errors ?? [];
  if (!first) return failure.message;
  if (first.id === 'import-is-undefined') return `${relative(process.cwd(), scriptPath)} must export a function handle(req)`;
  const where = first.location
    ? `${relative(process.cwd(), first.location.file)}:${first.location.line}:${first.location.column + 1}: `
    : '';
  const more = rest.length ? ` (and ${rest.length} more error${rest.length > 1 ? 's' : ''})` : '';
  return `${where}${first.text}${more}`;
}

async function componentizeBundle(bundlePath) {
  try {
    const { component } = await componentize({
      sourcePath: bundlePath,
      witPath: WIT_DIR,
      worldName: WORLD,
      disableFeatures: DISABLED_FEATURES,
    });
    return component;
  } catch (failure) {
    throw new BuildError(describeComponentizeFailure(String(failure?.message ?? failure)));
  }
}

/**
 * componentize-js reports a failing module top level as pages of engine
 * output; pick out the line that names the cause.
 */
export function describeComponentizeFailure(message) {
  const importCall = message.match(/unknown imported function: '([^']+)' '([^']+)'/);
  if (importCall) {
    return `the script calls ${importCall[1]} ${importCall[2]} at module top level, which runs at build time; call the SDK inside handle()`;
  }
  const topLevel = message.match(/Exception while evaluating top-level script\n(.+)/);
  // The location's directories are the build's temporary folder: drop them.
  if (topLevel) return `the script's top level threw: ${topLevel[1].trim().replace(/^\S*\//, '')}`;
  return message.split('\n').find((line) => line.trim()) ?? 'componentize failed';
}
