import { call, callBatch } from 'scripthost:abi/backend@0.1.1';
import { decodeUtf8, encodeBody } from './bytes.js';
import { findHeader, withContentType } from './headers.js';

const MAX_TIMEOUT_MS = 2 ** 32 - 1;

/** A service's answer, whatever its status: a 404 is a response, not an error. */
export class BackendResponse {
  constructor({ status, headers, body }) {
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  /** True for a 2xx status. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** First value of response header `name` (case-insensitive), or null. */
  header(name) {
    return findHeader(this.headers, name);
  }

  /** The body decoded as UTF-8. */
  text() {
    return decodeUtf8(this.body);
  }

  /** The body parsed as JSON; throws SyntaxError when it is not JSON. */
  json() {
    return JSON.parse(this.text());
  }
}

/** A call that got no usable answer; `kind` says why. */
export class BackendError extends Error {
  name = 'BackendError';

  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }

  toString() {
    return `BackendError: ${this.kind}: ${this.message}`;
  }
}

/**
 * Describe a call without sending it, for `fetch` or `batch`. A non-binary,
 * non-string body is sent as JSON; `query` (object or URLSearchParams) is
 * appended to the path, encoded.
 */
export function request(service, path, { method = 'GET', headers, body, timeoutMs, query } = {}) {
  const encoded = encodeBody(body);
  return {
    service,
    method: method.toUpperCase(),
    path: withQuery(path, query),
    headers: withContentType(headers, encoded.contentType),
    body: encoded.bytes,
    timeoutMs: checkedTimeout(timeoutMs),
  };
}

/** Send one call and wait; throws `BackendError` when there is no answer. */
export function fetch({ service, path, ...options }) {
  const raw = request(service, path, options);
  try {
    return new BackendResponse(call(raw));
  } catch (thrown) {
    throw backendErrorFrom(thrown) ?? thrown;
  }
}

/** `GET path` on `service`. */
export function get(service, path, options = {}) {
  return fetch({ ...options, service, path, method: 'GET' });
}

/** `POST path` on `service` with `body`. */
export function post(service, path, body, options = {}) {
  return fetch({ ...options, service, path, method: 'POST', body });
}

/**
 * Send several calls at once; the host runs them concurrently. One item per
 * call, in order: a `BackendResponse`, or the `BackendError` (returned, not
 * thrown) of a call that got no answer.
 */
export function batch(requests) {
  if (requests.length === 0) return [];
  const raws = requests.map(({ service, path, ...options }) => request(service, path, options));
  return callBatch(raws).map(({ tag, val }) =>
    tag === 'ok' ? new BackendResponse(val) : new BackendError(val.tag, val.val),
  );
}

function withQuery(path, query) {
  const encoded = query == null ? '' : new URLSearchParams(query).toString();
  if (!encoded) return path;
  return `${path}${path.includes('?') ? '&' : '?'}${encoded}`;
}

function checkedTimeout(timeoutMs) {
  if (timeoutMs == null) return undefined;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new RangeError(`timeoutMs must be an integer from 0 to ${MAX_TIMEOUT_MS}, not ${String(timeoutMs)}`);
  }
  return timeoutMs;
}

// The bindings throw an `err` result as an exception whose `payload` is the
// backend-error variant, `{tag: kind, val: message}`.
function backendErrorFrom(thrown) {
  const variant = thrown?.payload;
  if (typeof variant?.tag !== 'string') return null;
  return new BackendError(variant.tag, String(variant.val));
}
