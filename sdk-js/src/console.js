import { formatValue } from './format.js';

const LEVEL_OF_METHOD = { debug: 'debug', log: 'info', info: 'info', warn: 'warn', error: 'error' };

/**
 * Point console.debug/log/info/warn/error at `write(level, message)`: the
 * engine is built without stdio, so console output would otherwise vanish.
 */
export function routeConsole(console, write) {
  for (const [method, level] of Object.entries(LEVEL_OF_METHOD)) {
    console[method] = (...args) => write(level, args.map(formatValue).join(' '));
  }
}
