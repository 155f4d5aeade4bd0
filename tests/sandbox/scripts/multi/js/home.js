// A script of several files and an npm package, bundled for the shared runtime.
import { json } from '@scripthost/sdk';
import { fromByteArray } from 'base64-js';
import { shout } from './lib/shout.js';

export function handle(req) {
  if (req.params.get('fail')) return json({ said: shout(null) });
  return json({ said: shout('hi'), encoded: fromByteArray(new Uint8Array([1, 2, 3])) });
}
