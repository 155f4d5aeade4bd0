// Adversarial: host calls in a tight loop. Each call does its work in the
// host, so the guest itself burns little fuel: the host must charge for the
// calls (or cap them). Empty log lines, the other cheap flood, spend the log
// budget instead (tests/sandbox/test_abi.py).
import { config } from '@scripthost/sdk';

export function handle() {
  for (;;) config.get('greeting');
}
