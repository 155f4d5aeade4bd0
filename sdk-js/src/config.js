import { get as getValue, getAll } from 'scripthost:abi/config@0.1.1';

/** The value of `key`, or `fallback` (default null) when the endpoint has no such key. */
export function get(key, fallback = null) {
  return getValue(key) ?? fallback;
}

/** Every key/value of the endpoint's configuration, as a plain object. */
export function all() {
  return Object.fromEntries(getAll());
}
