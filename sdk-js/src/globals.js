import { write } from 'scripthost:abi/log@0.1.0';
import { routeConsole } from './console.js';

// Module top-level code runs once at build time, when the engine is
// snapshotted and the host's imports do not exist: console output from
// there is dropped instead of failing the build.
let consoleOpen = false;

/** Send console output to the request log from now on (the first request). */
export function openConsole() {
  consoleOpen = true;
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
