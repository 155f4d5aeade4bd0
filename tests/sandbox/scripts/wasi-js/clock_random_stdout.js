// Built with componentize-js's WASI left on (not with the SDK): the engine
// then reads the clock, random numbers and stdout through WASI 0.2, which
// the host implements itself.
export function handle() {
  const now = Date.now();
  const random = Math.random();
  console.log(`clock ${now > 1.7e12} random ${random >= 0 && random < 1}`);
  return {
    status: 200,
    headers: [['content-type', 'text/plain']],
    body: new TextEncoder().encode(`clock ${now > 1.7e12} random ${random >= 0 && random < 1}`),
  };
}
