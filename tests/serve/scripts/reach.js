// Calls whatever service and path the request names, with the request's
// `header` parameter (`name:value`) as a header of its own if there is one,
// and reports what came back: how tests check that scripts reach only what
// the catalogue allows, and send only what it lets them.
import { BackendError, backend, json } from '@scripthost/sdk';

export function handle(req) {
  const header = req.params.get('header');
  const headers = header ? [header.split(':', 2)] : [];
  try {
    const answer = backend.get(req.params.get('service'), req.params.get('path'), { headers });
    return json({ status: answer.status, body: answer.text() });
  } catch (error) {
    if (error instanceof BackendError) return json({ error: error.kind });
    throw error;
  }
}
