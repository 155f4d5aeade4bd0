// @scripthost/sdk/testing: run a script's `handle` in Node against canned
// backends and config. Load it through the resolution hook (`scripthost test`
// does: `node --import @scripthost/sdk/testing/register --test`).
import { err, host as abi, ok } from '../test-support/fake-host.js';
import { BackendError, BackendResponse } from './backend.js';
import { Request } from './request.js';
import { toRawResponse } from './response.js';
import { utf8 } from './bytes.js';
import { routeConsole } from './console.js';
import { normaliseHeaders } from './headers.js';

/**
 * A stand-in for the host's imports. `backends` maps `'service path'` (path
 * with its query) to an answer; `handler(call)` answers everything else. An
 * answer is a `BackendResponse`, a `BackendError`, a plain
 * `{status, headers, body, json}`, or a function of the call returning one.
 * Unanswered calls get `BackendError('unknown-service', ...)`.
 */
let running = null;

/** The FakeHost whose `run` is under way (what a sandboxed or live `handle` answers with). */
export function runningHost() {
  return running;
}

export class FakeHost {
  constructor({ config = {}, backends = {}, handler } = {}) {
    this.config = { ...config };
    this.backends = backends instanceof Map ? backends : new Map(Object.entries(backends));
    this.handler = handler;
    /** Every backend call the script made, in order: `{service, method, path, headers, body, timeoutMs}`. */
    this.calls = [];
    /** The calls of each `backend.batch`, one array per batch. */
    this.batches = [];
    /** What the script logged (and printed): `{level, message, fields}`. */
    this.logs = [];
  }

  /**
   * Run `handle` on a request (`{method, path, query, headers, body}`, all
   * optional) with this host installed; resolves to the response as the host
   * would get it (`status`, `headers`, `body`, `header()`, `text()`, `json()`).
   * What the script throws is thrown here.
   */
  async run(handle, request = {}) {
    this.#install();
    // As in the sandbox, the script's console output is its log.
    const saved = { ...console };
    routeConsole(console, (level, message) => this.logs.push({ level, message, fields: {} }));
    running = this;
    try {
      return new BackendResponse(toRawResponse(await handle(new Request(request))));
    } finally {
      running = null;
      Object.assign(console, saved);
    }
  }

  /**
   * Answer backend calls a script made in the sandbox (`scripthost test
   * --sandbox`): recorded like the calls of a script run here; each result
   * is `{tag: 'ok', val: response}` or `{tag: 'err', val: {tag: kind, val: message}}`.
   */
  answerCalls(calls) {
    if (calls.length > 1) this.batches.push(calls);
    this.calls.push(...calls);
    return calls.map((call) => toAbiResult(this.#answer(call), call));
  }

  #install() {
    abi.config = this.config;
    abi.calls = this.calls;
    abi.batches = {
      push: (calls) => {
        this.batches.push(calls);
        this.calls.push(...calls);
      },
    };
    abi.lines = {
      push: ({ level, message, fields }) => this.logs.push({ level, message, fields: Object.fromEntries(fields ?? []) }),
    };
    abi.answer = (call) => toAbiResult(this.#answer(call), call);
  }

  #answer(call) {
    const key = `${call.service} ${call.path}`;
    if (this.backends.has(key)) return this.backends.get(key);
    if (this.handler) return this.handler;
    return new BackendError('unknown-service', `no fake answer for ${key}`);
  }
}

function toAbiResult(answer, call) {
  const value = typeof answer === 'function' ? answer(call) : answer;
  if (value instanceof BackendError) return err(value.kind, value.message);
  if (value instanceof BackendResponse) return ok({ status: value.status, headers: value.headers, body: value.body });
  return ok(toRawBackendResponse(value));
}

function toRawBackendResponse({ status = 200, headers = [], body, json }) {
  if (json !== undefined) {
    const named = normaliseHeaders(headers);
    return { status, headers: [['content-type', 'application/json'], ...named], body: utf8(JSON.stringify(json)) };
  }
  return { status, headers: normaliseHeaders(headers), body: typeof body === 'string' ? utf8(body) : (body ?? new Uint8Array()) };
}

export { BackendError, BackendResponse };
