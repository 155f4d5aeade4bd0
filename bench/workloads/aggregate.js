// aggregate: three backend calls in one batch, merged into one answer.
import { backend, json } from '@scripthost/sdk';

export function handle() {
  const answers = backend.batch(['a', 'b', 'c'].map((part) => backend.request('slow', `/${part}`)));
  return json({ parts: answers.map((answer) => answer.json()) });
}
