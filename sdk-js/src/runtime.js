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
import { BUNDLE_FILE, compileBody, splitPayload } from './bundle-payload.js';
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
    compileBody(code);
  } catch (thrown) {
    throw describeCompileError(thrown, tableText);
  }
  return '';
}

/** The script's `handle` wrapped by the SDK (named so stacks can be cut here). */
async function scripthostEvaluate(payload) {
  const { code, tableText } = splitPayload(payload);
  if (tableText !== null) installLazyTable(BUNDLE_FILE, () => JSON.parse(tableText));
  const module = { exports: {} };
  const pending = compileBody(code)(requireFromScript, module, module.exports);
  // Only a script with top-level await returns a promise; awaiting nothing costs a turn.
  if (pending !== undefined) await pending;
  return serve(module.exports.handle);
}

function requireFromScript(name) {
  if (name === SDK_MODULE) return sdk;
  throw new Error(`cannot require ${JSON.stringify(name)}: a bundle holds every module it imports except ${SDK_MODULE}`);
}

// Compiling runs none of the code, so a SyntaxError is about the bundle's own
// lines (SpiderMonkey names the calling file for some, not the bundle).
function describeCompileError(thrown, tableText) {
  if (!(thrown instanceof SyntaxError) || !thrown.lineNumber) return String(thrown);
  const table = tableText === null ? undefined : JSON.parse(tableText);
  const where = mapFrame(`${BUNDLE_FILE}:${thrown.lineNumber}:${thrown.columnNumber}`, table);
  return `${where}: ${thrown}`;
}
