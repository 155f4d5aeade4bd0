// Calls the profile service with the header value the request names (`?value=`).
import { backend, json } from '@scripthost/sdk';

export function handle(req) {
  const answer = backend.get('profile', '/users/42', { headers: { 'x-note': req.params.get('value') } });
  return json({ status: answer.status });
}
