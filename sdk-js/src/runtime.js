// The shared JavaScript runtime: the engine and the SDK, built and compiled
// once, running any script bundled for it (world `runtime`, abi/README.md).
// A fresh instance asks the host for the script's bundle, evaluates it, then
// serves the request; a reused instance keeps the evaluated script.
import './setup.js';
import { bundle } from 'scripthost:abi/script@0.1.1';
import { beginRequest } from './globals.js';
import { toGuestError } from './guest-error.js';
import * as sdk from './index.js';
import { serve } from './serve.js';
import { BUNDLE_FILE, LINES_MARKER } from './runtime-names.js';
import { installLazyTable, mapFrame } from './source-lines.js';

const SDK_MODULE = '@scripthost/sdk';

let served = null;

/** The `handle` export: evaluate the script on first use, then serve. */
export async function handle(raw) {
  if (served === null) {
    // Console output and Math.random of the script's top level belong to this request.
    beginRequest(raw.requestId);
    try {
      served = await scripthostEvaluate(bundle());
    } catch (thrown) {
      throw toGuestError(thrown);
    }
  }
  return served(raw);
}

/** The `prepare` export: a payload must compile here; nothing is kept for later. */
export function prepare(payload) {
  const { code, tableText } = splitPayload(payload);
  try {
    compile(code);
  } catch (thrown) {
    throw describeCompileError(thrown, tableText);
  }
  return new Uint8Array();
}

/** The script's `handle` wrapped by the SDK (named so stacks can be cut here). */
async function scripthostEvaluate(payload) {
  const { code, tableText } = splitPayload(payload);
  if (tableText !== null) installLazyTable(BUNDLE_FILE, () => JSON.parse(tableText));
  const module = { exports: {} };
  await compile(code)(requireFromScript, module, module.exports);
  return serve(module.exports.handle);
}

export function splitPayload(payload) {
  const at = payload.lastIndexOf(LINES_MARKER);
  if (at === -1) return { code: payload, tableText: null };
  return { code: payload.slice(0, at), tableText: payload.slice(at + LINES_MARKER.length) };
}

// The code is an ES module's, made a function body by the build: strict, and
// async so that top-level await works. The wrapper shares the first line with
// the code, so line numbers are the bundle's own.
function compile(code) {
  return (0, eval)(`(async function (require, module, exports) {"use strict";${code}\n})\n//# sourceURL=${BUNDLE_FILE}`);
}

function requireFromScript(name) {
  if (name === SDK_MODULE) return sdk;
  throw new Error(`cannot require ${JSON.stringify(name)}: a bundle holds every module it imports except ${SDK_MODULE}`);
}

function describeCompileError(thrown, tableText) {
  if (!(thrown instanceof SyntaxError) || thrown.fileName !== BUNDLE_FILE) return String(thrown);
  const table = tableText === null ? undefined : JSON.parse(tableText);
  const where = mapFrame(`${BUNDLE_FILE}:${thrown.lineNumber}:${thrown.columnNumber}`, table);
  return `${where}: ${thrown}`;
}
