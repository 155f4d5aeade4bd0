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
// The payload this instance evaluated. Its line table is parsed only when a
// stack needs it; the getter is installed here, at build time, so that no
// instance pays for installing it.
let evaluated = null;
installLazyTable(BUNDLE_FILE, () => (evaluated === null ? undefined : tableOf(evaluated)));
warmRequestPath();

/** The `handle` export: evaluate the script on first use, then serve. */
export function handle(raw) {
  if (served !== null) return served(raw);
  // Console output and Math.random of the script's top level belong to this request.
  beginRequest(raw.requestId);
  let pending;
  try {
    pending = scripthostEvaluate(bundle());
  } catch (thrown) {
    throw toGuestError(thrown);
  }
  // Only a script with top-level await returns a promise: the rest serve at once.
  if (pending !== undefined) return pending.then(() => served(raw, true), (thrown) => Promise.reject(toGuestError(thrown)));
  return served(raw, true);
}

/** The `prepare` export: a payload must compile here; nothing is kept for later. */
export function prepare(payload) {
  try {
    compileBody(payload);
  } catch (thrown) {
    throw describeCompileError(thrown, payload);
  }
  return '';
}

/**
 * Evaluate the script and wrap its `handle` with the SDK (named so stacks
 * can be cut here). The payload compiles as it is: its line table follows a
 * line comment. A script with top-level await gets a promise back.
 */
function scripthostEvaluate(payload) {
  evaluated = payload;
  const module = { exports: {} };
  const pending = compileBody(payload)(requireFromScript, module, module.exports);
  if (pending === undefined) {
    served = serve(module.exports.handle);
    return undefined;
  }
  return pending.then(() => {
    served = serve(module.exports.handle);
  });
}

/**
 * Serve one request through the SDK at build time, to a handler of the
 * runtime's own, and compile an empty bundle: SpiderMonkey compiles a
 * function when it is first called and the snapshot keeps what was
 * compiled, so no fresh instance compiles the SDK's request path again. It
 * calls no import (none exists yet) and does not begin a request (the
 * script's Math.random and console are not touched).
 */
function warmRequestPath() {
  const warm = serve(() => sdk.json({ warm: true }));
  warm({ method: 'GET', path: '/', query: '', headers: [['accept', '*/*']], body: new Uint8Array(0), endpoint: '', version: '', requestId: '' }, true);
  compileBody('');
}

function requireFromScript(name) {
  if (name === SDK_MODULE) return sdk;
  throw new Error(`cannot require ${JSON.stringify(name)}: a bundle holds every module it imports except ${SDK_MODULE}`);
}

function tableOf(payload) {
  const { tableText } = splitPayload(payload);
  return tableText === null ? undefined : JSON.parse(tableText);
}

// Compiling runs none of the code, so a SyntaxError is about the bundle's own
// lines (SpiderMonkey names the calling file for some, not the bundle).
function describeCompileError(thrown, payload) {
  if (!(thrown instanceof SyntaxError) || !thrown.lineNumber) return String(thrown);
  const where = mapFrame(`${BUNDLE_FILE}:${thrown.lineNumber}:${thrown.columnNumber}`, tableOf(payload));
  return `${where}: ${thrown}`;
}
