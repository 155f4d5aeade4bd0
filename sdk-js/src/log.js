import { write as writeLine } from 'scripthost:abi/log@0.1.1';
import { formatValue } from './format.js';

/** One line in the request log at `level`, with `fields` values written as text. */
export function write(level, message, fields = {}) {
  const pairs = Object.entries(fields).map(([name, value]) => [name, formatValue(value)]);
  writeLine(level, String(message), pairs);
}

export const debug = (message, fields) => write('debug', message, fields);
export const info = (message, fields) => write('info', message, fields);
export const warn = (message, fields) => write('warn', message, fields);
export const error = (message, fields) => write('error', message, fields);
