// Build a script for the host, in one of two forms:
// - a bundle (the default): the script, its relative imports and npm packages
//   as one function body (esbuild) with a line table, naming the shared
//   runtime that runs it; a few KB, built in well under a second;
// - a component: the same bundled together with the SDK behind a generated
//   entry, then snapshotted into its own engine (componentize-js).
// `buildRuntime` builds that shared runtime: the engine, the SDK and
// runtime.js, which evaluates a bundle in each fresh instance.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_FILE, HEADER_LINES, LINES_MARKER, compileBody } from './bundle-payload.js';
import { mapFrame, tableInstaller } from './source-lines.js';

const SDK_SRC = dirname(fileURLToPath(import.meta.url));
const WIT_DIR = join(SDK_SRC, '..', 'wit');
const WORLD = 'endpoint';
const RUNTIME_WORLD = 'runtime';
// No WASI at all: the component imports only the scripthost interfaces.
const DISABLED_FEATURES = ['random', 'stdio', 'clocks', 'http', 'fetch-event'];
// Syntax the engine's SpiderMonkey runs natively; esbuild lowers anything newer.
const TARGET = 'es2024';
const SDK_MODULE = '@scripthost/sdk';
const ENTRY_FILE = 'scripthost-entry.js';
/** First line of every bundle file, whatever its language (abi/README.md#bundles). */
export const BUNDLE_MAGIC = 'SCRIPTHOST-BUNDLE 1';
const SDK_VERSION = JSON.parse(readFileSync(join(SDK_SRC, '..', 'package.json'), 'utf8')).version;
const ABI_VERSION = readFileSync(join(WIT_DIR, 'world.wit'), 'utf8').match(/^package scripthost:abi@([0-9.]+);/m)[1];

/** A build that failed because of the script; `message` is one line for its author. */
export class BuildError extends Error {
  name = 'BuildError';
}

/** Compile the script at `sourcePath` into a component written to `outPath`. */
export async function build({ sourcePath, outPath }) {
  const source = await existingScript(sourcePath);
  return withWorkDir(async (workDir) => {
    const bundlePath = join(workDir, basename(source).replace(/\.[cm]?[jt]s$/, '') + '.js');
    const { code, lineTable } = await bundle(entrySource(source), source, bundlePath, componentOptions);
    await writeFile(bundlePath, code + tableInstaller(lineTable));
    const component = await componentizeBundle(bundlePath, WORLD, lineTable);
    return writeOutput(outPath, component);
  });
}

/** Build the shared runtime component (the engine, the SDK and runtime.js) to `outPath`. */
export async function buildRuntime({ outPath }) {
  return withWorkDir(async (workDir) => {
    const runtimeEntry = join(SDK_SRC, 'runtime.js');
    const bundlePath = join(workDir, 'runtime.js');
    const entry = `export { handle, prepare } from ${JSON.stringify(runtimeEntry)};`;
    const { code, lineTable } = await bundle(entry, runtimeEntry, bundlePath, componentOptions);
    await writeFile(bundlePath, code + tableInstaller(lineTable));
    return writeOutput(outPath, await componentizeBundle(bundlePath, RUNTIME_WORLD, lineTable));
  });
}

/**
 * Bundle the script at `sourcePath` for the runtime component at
 * `runtimePath`: one bundle file at `outPath` naming that runtime by its
 * SHA-256. `files` lists the bundled files, relative to the script's folder.
 */
export async function buildBundle({ sourcePath, outPath, runtimePath }) {
  const source = await existingScript(sourcePath);
  const runtime = runtimeId(await readFile(runtimePath));
  const entry = `export { handle } from ${JSON.stringify(source)};`;
  const bundled = await bundle(entry, source, join(dirname(source), BUNDLE_FILE), bundleOptions);
  const code = functionBody(bundled.code);
  const lineTable = { ...bundled.lineTable, lines: [...Array(HEADER_LINES).fill(null), ...bundled.lineTable.lines] };
  const files = lineTable.sources.filter((file) => file !== ENTRY_FILE);
  const header = { runtime, entry: basename(source), files };
  const file = `${BUNDLE_MAGIC}\n${JSON.stringify(header)}\n${code}${LINES_MARKER}${JSON.stringify(lineTable)}\n`;
  return { ...(await writeOutput(outPath, Buffer.from(file))), files, runtime };
}

/** How a bundle names its runtime: what it is, and exactly which bytes. */
export function runtimeId(runtimeBytes) {
  const sha256 = createHash('sha256').update(runtimeBytes).digest('hex');
  return { language: 'js', sdk: SDK_VERSION, abi: ABI_VERSION, sha256 };
}

async function existingScript(sourcePath) {
  const source = resolve(sourcePath);
  await access(source).catch(() => {
    throw new BuildError(`no such script: ${sourcePath}`);
  });
  return source;
}

async function withWorkDir(work) {
  const workDir = await mkdtemp(join(tmpdir(), 'scripthost-build-'));
  try {
    return await work(workDir);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function writeOutput(outPath, bytes) {
  await mkdir(dirname(resolve(outPath)), { recursive: true });
  await writeFile(outPath, bytes);
  return { outPath, bytes: bytes.length };
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

// A component holds the SDK itself, as ESM (componentize-js evaluates a module).
const componentOptions = {
  format: 'esm',
  external: ['scripthost:abi/*'],
  // One copy of the SDK, whatever the script's own node_modules hold.
  alias: { [SDK_MODULE]: join(SDK_SRC, 'index.js') },
};

// A bundle leaves the SDK to the runtime, which passes it to `require`.
const bundleOptions = { format: 'esm', external: [SDK_MODULE] };

// esbuild prints the imports of an external module and the entry's exports
// in these forms, one statement each, imports on one line.
const IMPORT_STATEMENT = /^import\s+(?:([\w$]+)\s*,?\s*)?(?:\*\s*as\s+([\w$]+)|\{([^}]*)\})?\s*(?:from\s*)?("[^"\n]*");$/gm;
const EXPORT_STATEMENT = /^export\s*\{([^}]*)\};$/gm;

/**
 * esbuild's ES module output as the body of the function the runtime calls
 * with `require`, `module` and `exports`: imports become `require` calls and
 * the exports an assignment to `module.exports`, each on the lines the
 * statement had, so the line table still holds. (CommonJS output would carry
 * esbuild's interop helpers, which cost every instance that evaluates them.)
 * A script with top-level await runs in an async function the body returns.
 */
export function functionBody(esm) {
  const body = esm
    .replace(IMPORT_STATEMENT, (_, defaultName, namespace, named, specifier) => {
      const required = `require(${specifier})`;
      const bindings = [
        defaultName && `const ${defaultName} = ${required}.default;`,
        namespace && `const ${namespace} = ${required};`,
        named !== undefined && `const {${named.replace(/([\w$]+)\s+as\s+([\w$]+)/g, '$1: $2')}} = ${required};`,
      ].filter(Boolean);
      return bindings.length ? bindings.join(' ') : `${required};`;
    })
    .replace(EXPORT_STATEMENT, (_, names) => `module.exports = {${names.replace(/([\w$]+)\s+as\s+([\w$]+)/g, '$2: $1')}};`);
  const failures = [];
  for (const candidate of [body, `return (async () => {${body}\n})();`]) {
    try {
      compileBody(candidate);
      return candidate;
    } catch (failure) {
      failures.push(failure);
    }
  }
  throw new BuildError(`the bundle cannot run as a script body: ${failures[0].message}`);
}

async function bundle(entry, scriptPath, bundlePath, formatOptions) {
  const result = await esbuild
    .build({
      stdin: { contents: entry, resolveDir: dirname(scriptPath), sourcefile: ENTRY_FILE },
      bundle: true,
      write: false,
      outfile: bundlePath,
      sourcemap: 'external',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: TARGET,
      ...formatOptions,
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
  if (first.id === 'import-is-undefined' || /^No matching export .* for import "handle"$/.test(first.text)) return `${relative(process.cwd(), scriptPath)} must export a function handle(req)`;
  const where = first.location
    ? `${relative(process.cwd(), first.location.file)}:${first.location.line}:${first.location.column + 1}: `
    : '';
  const more = rest.length ? ` (and ${rest.length} more error${rest.length > 1 ? 's' : ''})` : '';
  return `${where}${first.text}${more}`;
}

async function componentizeBundle(bundlePath, worldName, lineTable) {
  // Loaded here: it takes Node a third of a second, which a bundle need not pay.
  const { componentize } = await import('@bytecodealliance/componentize-js');
  try {
    const { component } = await componentize({
      sourcePath: bundlePath,
      witPath: WIT_DIR,
      worldName,
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
