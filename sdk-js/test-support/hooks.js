// Module resolution hook: every `scripthost:abi/*` import is the fake host,
// and `@scripthost/sdk` is this SDK wherever the script under test lives.
const FAKE_HOST = new URL('./fake-host.js', import.meta.url).href;
const SDK = {
  '@scripthost/sdk': new URL('../src/index.js', import.meta.url).href,
  '@scripthost/sdk/testing': new URL('../src/testing.js', import.meta.url).href,
};

export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith('scripthost:abi/')) return { url: FAKE_HOST, shortCircuit: true };
  if (Object.hasOwn(SDK, specifier)) return { url: SDK[specifier], shortCircuit: true };
  return nextResolve(specifier, context);
}
