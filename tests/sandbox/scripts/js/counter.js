// Keeps a count in module state: with instance reuse the count goes up from
// one request to the next; with a fresh instance per request it is always 1.
import { json } from '@scripthost/sdk';

let served = 0;

export function handle(req) {
  served += 1;
  console.log(`serving ${req.requestId}`);
  if (req.params.get('fail')) throw new Error('asked to fail');
  return json({ served });
}
