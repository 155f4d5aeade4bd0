// Module resolution hook: every `scripthost:abi/*` import is the fake host.
const FAKE_HOST = new URL('./fake-host.js', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith('scripthost:abi/')) return { url: FAKE_HOST, shortCircuit: true };
  return nextResolve(specifier, context);
}
