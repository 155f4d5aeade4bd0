import { beginRequest } from './globals.js';
import { Request } from './request.js';
import { toRawResponse } from './response.js';
import { toGuestError } from './guest-error.js';

/**
 * The component's `handle` export around the script's handler: converts the
 * request, awaits the handler (sync or async), normalises its response and
 * turns anything thrown into the ABI's guest-error.
 */
export function serve(scriptHandle) {
  // Runs at build time (module top level), so a bad export fails the build.
  if (typeof scriptHandle !== 'function') {
    throw new TypeError(`the script must export a function handle(req), not ${typeof scriptHandle}`);
  }
  // Named so that stack traces can be cut here (see tidyStack in format.js).
  // `begun`: the shared runtime began the request before it evaluated the
  // script, so its top level and its handler draw one Math.random sequence.
  return async function scripthostHandle(raw, begun = false) {
    try {
      if (!begun) beginRequest(raw.requestId);
      return toRawResponse(await scriptHandle(new Request(raw)));
    } catch (thrown) {
      throw toGuestError(thrown);
    }
  };
}
