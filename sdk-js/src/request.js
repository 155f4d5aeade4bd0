import { decodeUtf8, toBytes } from './bytes.js';
import { findHeader, normaliseHeaders } from './headers.js';

/** One device request, as the host received it. */
export class Request {
  #params;

  constructor({
    method = 'GET',
    path = '/',
    query = '',
    headers = [],
    body,
    endpoint = '',
    version = '',
    requestId = '',
  } = {}) {
    this.method = method;
    this.path = path;
    this.query = query;
    this.headers = normaliseHeaders(headers);
    this.body = toBytes(body);
    this.endpoint = endpoint;
    this.version = version;
    this.requestId = requestId;
  }

  /** The query string parsed: `req.params.get('user')`. */
  get params() {
    this.#params ??= new URLSearchParams(this.query);
    return this.#params;
  }

  /** First value of request header `name` (case-insensitive), or null. */
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
