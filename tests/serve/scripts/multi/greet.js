// A script of three files: the history keeps all of them with each version.
import { json } from '@scripthost/sdk';
import { greeting } from './lib/format.js';
import { WORDS } from './lib/words.js';

export function handle(req) {
  return json({ greeting: greeting(req.params.get('name') ?? 'world'), words: WORDS.length });
}
