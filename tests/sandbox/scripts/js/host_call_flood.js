// Adversarial: host calls in a tight loop. The log lines are empty, so a
// limit on log bytes alone would never stop it: the host must also cap the
// number of calls (or run it out of fuel).
import { config, log } from '@scripthost/sdk';

export function handle() {
  for (;;) {
    config.get('greeting');
    log.debug('');
  }
}
