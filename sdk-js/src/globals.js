import { write } from 'scripthost:abi/log@0.1.1';
import { routeConsole } from './console.js';
import { seededRandom } from './random.js';

// Module top-level code runs once at build time, when the engine is
// snapshotted and the host's imports do not exist: console output from
// there is dropped instead of failing the build.
let consoleOpen = false;

/**
 * Called as each request starts: console output goes to the request log from
 * now on, and Math.random, which would otherwise repeat the build's sequence
 * in every request (the engine is snapshotted), is seeded from the request id.
 */
export function beginRequest(requestId) {
  consoleOpen = true;
  Math.random = seededRandom(requestId);
}

// The engine has these, but without their host support they trap with an
// opaque `unreachable`, or (randomness) repeat the same values in every
// request. A clear exception tells the author what to use instead.
const UNAVAILABLE = [
  ['fetch', 'call a named service with backend.fetch() from @scripthost/sdk'],
  ['setTimeout', 'a script has no timers'],
  ['setInterval', 'a script has no timers'],
  ['performance.now', 'a script has no clock'],
  ['crypto.getRandomValues', 'a script has no source of secure randomness'],
  ['crypto.randomUUID', 'a script has no source of secure randomness'],
];

/** Point console at the request log and replace the globals a script cannot use. */
export function installGlobals(global = globalThis) {
  routeConsole(global.console, (level, message) => {
    if (consoleOpen) write(level, message, []);
  });
  for (const [path, advice] of UNAVAILABLE) {
    const names = path.split('.');
    const owner = names.slice(0, -1).reduce((object, name) => object[name], global);
    owner[names.at(-1)] = () => {
      throw new TypeError(`${path}() is not available in scripthost: ${advice}`);
    };
  }
}
