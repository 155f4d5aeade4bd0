import { JSON_TYPE, TEXT_TYPE, encodeBody, utf8 } from './bytes.js';
import { withContentType } from './headers.js';

/** A response whose body is `value` as JSON, content-type application/json. */
export function json(value, { status = 200, headers } = {}) {
  return { status, headers: withContentType(headers, JSON_TYPE), body: utf8(JSON.stringify(value) ?? 'null') };
}

/** A response whose body is `text` as UTF-8, content-type text/plain. */
export function text(value, { status = 200, headers } = {}) {
  return { status, headers: withContentType(headers, TEXT_TYPE), body: utf8(String(value)) };
}

/**
 * What a handler returned, as the ABI's response record. Throws TypeError for
 * anything the host would refuse, so the script's log says what was wrong.
 */
export function toRawResponse(value) {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`handle must return a response such as json({...}), not ${value === null ? 'null' : typeof value}`);
  }
  const { bytes, contentType } = encodeBody(value.body);
  return {
    status: checkedStatus(value.status ?? 200),
    headers: withContentType(value.headers, contentType),
    body: bytes,
  };
}

function checkedStatus(status) {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`response status must be an integer from 100 to 599, not ${String(status)}`);
  }
  return status;
}
