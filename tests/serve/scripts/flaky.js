// A candidate with a bug some devices hit: those whose id ends in 0, 1 or 2
// (three in ten) get an exception, the others the same answer as home_v2.js.
import { config, json } from '@scripthost/sdk';

export function handle(req) {
  const device = req.header('x-device-id') ?? '';
  if (device && '012'.includes(device.slice(-1))) {
    throw new Error(`no layout for device ${device}`);
  }
  return json({ edition: 'flaky', greeting: config.get('greeting', 'Hi'), version: req.version });
}
