// Adversarial: answers with as many response headers as the request asks for
// (`count`, each value `size` bytes): headers count against the response quota.
import { json } from '@scripthost/sdk';

export function handle(req) {
  const count = Number(req.params.get('count') ?? '0');
  const value = 'v'.repeat(Number(req.params.get('size') ?? '8'));
  const headers = [];
  for (let i = 0; i < count; i++) headers.push([`x-flood-${i}`, value]);
  return json({ count }, { headers });
}
