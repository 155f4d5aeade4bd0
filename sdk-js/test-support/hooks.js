// Module resolution hook: every `scripthost:abi/*` import is the fake host,
// and `@scripthost/sdk` is this SDK wherever the script under test lives.
// Under `scripthost test --sandbox` or `--live URL`, a module a test file
// imports by relative path is seen through a proxy: all its exports, except
// `handle`, which runs the script remotely (./remote.js).
const FAKE_HOST = new URL('./fake-host.js', import.meta.url).href;
const REMOTE = new URL('./remote.js', import.meta.url).href;
const PROXY = new URL('./script-proxy.js', import.meta.url).href;
const SDK = {
  '@scripthost/sdk': new URL('../src/index.js', import.meta.url).href,
  '@scripthost/sdk/testing': new URL('../src/testing.js', import.meta.url).href,
};
const PROXIED = Boolean(process.env.SCRIPTHOST_TEST_SANDBOX || process.env.SCRIPTHOST_TEST_LIVE);
const TEST_FILE = /\.test\.m?js$/;

export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith('scripthost:abi/')) return { url: FAKE_HOST, shortCircuit: true };
  if (Object.hasOwn(SDK, specifier)) return { url: SDK[specifier], shortCircuit: true };
  const resolved = await nextResolve(specifier, context);
  if (PROXIED && specifier.startsWith('.') && isScriptOfTest(resolved.url, context.parentURL)) {
    return { url: `${PROXY}?script=${encodeURIComponent(resolved.url)}`, shortCircuit: true };
  }
  return resolved;
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith(`${PROXY}?`)) return nextLoad(url, context);
  const script = JSON.stringify(new URL(url).searchParams.get('script'));
  const source = [
    `export * from ${script};`,
    `import { remoteHandle } from ${JSON.stringify(REMOTE)};`,
    `export const handle = remoteHandle(${script});`,
  ].join('\n');
  return { format: 'module', source, shortCircuit: true };
}

function isScriptOfTest(url, parentURL) {
  return (
    url.startsWith('file:') &&
    !url.includes('/node_modules/') &&
    !TEST_FILE.test(url) &&
    parentURL !== undefined &&
    TEST_FILE.test(parentURL)
  );
}
