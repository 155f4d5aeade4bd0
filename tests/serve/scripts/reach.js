// Calls whatever service and path the request names, and reports what came
// back: how tests check that scripts reach only what the catalogue allows.
import { BackendError, backend, json } from '@scripthost/sdk';

export function handle(req) {
  try {
    const answer = backend.get(req.params.get('service'), req.params.get('path'));
    return json({ status: answer.status, body: answer.text() });
  } catch (error) {
    if (error instanceof BackendError) return json({ error: error.kind });
    throw error;
  }
}
