// Well-behaved: the baseline every adversarial script is compared with.
import { json } from '@scripthost/sdk';

export function handle() {
  return json({ ok: true });
}
