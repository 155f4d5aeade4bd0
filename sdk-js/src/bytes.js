const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`. */
export function utf8(text) {
  return encoder.encode(text);
}

/** `bytes` decoded as UTF-8; invalid sequences become U+FFFD. */
export function decodeUtf8(bytes) {
  return decoder.decode(bytes);
}

/** True for a Uint8Array, any other ArrayBuffer view, or an ArrayBuffer. */
function isBinary(value) {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

/** Binary data or a string as a Uint8Array; null and undefined are empty. */
export function toBytes(value) {
  if (value == null) return new Uint8Array();
  if (typeof value === 'string') return utf8(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`expected a string or binary data, not ${typeof value}`);
}

/**
 * A body as bytes plus the content type it implies: strings are text, other
 * non-binary values are sent as JSON, binary data and empty bodies imply none.
 */
export function encodeBody(body) {
  if (body == null || isBinary(body)) return { bytes: toBytes(body), contentType: null };
  if (typeof body === 'string') return { bytes: utf8(body), contentType: TEXT_TYPE };
  return { bytes: utf8(JSON.stringify(body)), contentType: JSON_TYPE };
}

export const JSON_TYPE = 'application/json';
export const TEXT_TYPE = 'text/plain; charset=utf-8';
