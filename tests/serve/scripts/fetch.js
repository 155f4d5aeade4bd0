// Calls `service` at `path` `times` times (in one batch with `batch=1`) and
// reports each answer's status and where it came from (`x-scripthost-cache`);
// with `fail=1` it then throws, so the request's ABI trace is kept with the
// recent failures. How tests count the backend calls a request costs.
import { BackendError, backend, json } from '@scripthost/sdk';

export function handle(req) {
  const service = req.params.get('service');
  const path = req.params.get('path');
  const times = Number(req.params.get('times') ?? '1');
  const headers = req.params.has('authorization') ? { authorization: req.params.get('authorization') } : {};
  const requests = Array.from({ length: times }, () => backend.request(service, path, { headers }));
  const answers = req.params.get('batch') === '1' ? backend.batch(requests) : requests.map(send);
  if (req.params.get('fail') === '1') throw new Error('failing on purpose, to keep the trace');
  return json({
    answers: answers.map((answer) =>
      answer instanceof BackendError
        ? { error: answer.kind }
        : { status: answer.status, cache: answer.header('x-scripthost-cache'), body: answer.text() },
    ),
  });
}

function send(request) {
  try {
    return backend.fetch(request);
  } catch (error) {
    if (error instanceof BackendError) return error;
    throw error;
  }
}
