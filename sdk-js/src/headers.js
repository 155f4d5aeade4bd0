/**
 * Headers as the ABI carries them: `[name, value]` pairs with lower-case
 * names. Accepts pairs, any iterable of pairs (Map, Headers) or a plain object.
 */
export function normaliseHeaders(headers) {
  if (headers == null) return [];
  const pairs = typeof headers[Symbol.iterator] === 'function' ? [...headers] : Object.entries(headers);
  return pairs.map(([name, value]) => [String(name).toLowerCase(), String(value)]);
}

/** First value of header `name` (case-insensitive), or null. */
export function findHeader(headers, name) {
  const wanted = name.toLowerCase();
  const found = headers.find(([key]) => key.toLowerCase() === wanted);
  return found ? found[1] : null;
}

/** Normalised `headers`, with `contentType` first unless they name their own. */
export function withContentType(headers, contentType) {
  const normalised = normaliseHeaders(headers);
  if (contentType === null || findHeader(normalised, 'content-type') !== null) return normalised;
  return [['content-type', contentType], ...normalised];
}
