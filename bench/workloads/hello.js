// hello: no backend, a small JSON answer.
import { json } from '@scripthost/sdk';

export function handle() {
  return json({ hello: 'world' });
}
