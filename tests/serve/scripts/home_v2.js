// The second version of tests' home endpoint: a different module with an
// answer no other version gives, so tests can tell which version served.
import { config, json } from '@scripthost/sdk';

export function handle(req) {
  return json({
    edition: 'v2',
    greeting: config.get('greeting', 'Hi'),
    path: req.path,
    version: req.version,
  });
}
