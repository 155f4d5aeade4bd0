// Build a script into a WebAssembly component: bundle it with the SDK behind
// a generated entry (esbuild), then snapshot it into the engine (componentize-js).
import { componentize } from '@bytecodealliance/componentize-js';
import * as esbuild from 'esbuild';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mapFrame, tableInstaller } from './source-lines.js';

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
    const bundlePath = join(workDir, basename(source).replace(/\.[cm]?[jt]s$/, '') + '.js');
    const { code, lineTable } = await bundle(source, bundlePath);
    await writeFile(bundlePath, code + tableInstaller(lineTable));
    const component = await componentizeBundle(bundlePath, lineTable);
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

async function bundle(scriptPath, bundlePath) {
  const result = await esbuild
    .build({
      stdin: { contents: entrySource(scriptPath), resolveDir: dirname(scriptPath), sourcefile: 'scripthost-entry.js' },
      bundle: true,
      write: false,
      outfile: bundlePath,
      sourcemap: 'external',
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
  const output = (extension) => result.outputFiles.find((file) => file.path.endsWith(extension)).text;
  const code = output('.js');
  return { code, lineTable: bundleLineTable(bundlePath, JSON.parse(output('.map')), code, dirname(scriptPath)) };
}

/**
 * For each line of the bundle, the source file and line it came from (see
 * source-lines.js). Files are named relative to the script's folder, the
 * SDK's own as `sdk/...`.
 */
export function bundleLineTable(bundlePath, sourceMap, code, scriptDir) {
  const absolute = (source) => resolve(dirname(bundlePath), source);
  const sources = sourceMap.sources.map((source) => displayName(absolute(source), scriptDir));
  const map = new SourceMap(sourceMap);
  const lines = code.split('\n').map((_, line) => {
    const entry = map.findEntry(line, Number.MAX_SAFE_INTEGER);
    if (entry.generatedLine !== line) return null;
    return [sourceMap.sources.indexOf(entry.originalSource), entry.originalLine + 1];
  });
  return { file: basename(bundlePath), sources, lines };
}

function displayName(path, scriptDir) {
  return path.startsWith(SDK_SRC + sep) ? `sdk/${relative(SDK_SRC, path)}` : relative(scriptDir, path);
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

async function componentizeBundle(bundlePath, lineTable) {
  try {
    const { component } = await componentize({
      sourcePath: bundlePath,
      witPath: WIT_DIR,
      worldName: WORLD,
      disableFeatures: DISABLED_FEATURES,
    });
    return component;
  } catch (failure) {
    throw new BuildError(describeComponentizeFailure(String(failure?.message ?? failure), lineTable));
  }
}

/**
 * componentize-js reports a failing module top level as pages of engine
 * output; pick out the line that names the cause.
 */
export function describeComponentizeFailure(message, lineTable) {
  const importCall = message.match(/unknown imported function: '([^']+)' '([^']+)'/);
  if (importCall) {
    return `the script calls ${importCall[1]} ${importCall[2]} at module top level, which runs at build time; call the SDK inside handle()`;
  }
  const topLevel = message.match(/Exception while evaluating top-level script\n(\S+) (.+)/);
  if (topLevel) return `the script's top level threw: ${mapFrame(topLevel[1], lineTable)} ${topLevel[2].trim()}`;
  return message.split('\n').find((line) => line.trim()) ?? 'componentize failed';
}
