// The same three handlers as a wasi-http component, for `wasmtime serve`: the
// native Rust host on the same engine (componentize-js) scripthost runs.
async function aggregate(backend) {
  const parts = await Promise.all(
    ['a', 'b', 'c'].map(async (part) => (await fetch(`${backend}/${part}`)).json()),
  );
  return { parts };
}

async function cpu(request) {
  const { items } = await request.json();
  const out = items
    .filter((item) => item.score > 0.5)
    .map((item) => ({ id: item.id, name: item.name.toUpperCase(), score: Math.round(item.score * 100) }));
  return { count: out.length, total: out.reduce((sum, item) => sum + item.score, 0), items: out };
}

async function answer(request) {
  const url = new URL(request.url);
  if (url.pathname === '/hello') return { hello: 'world' };
  if (url.pathname === '/aggregate') return aggregate(url.searchParams.get('backend'));
  if (url.pathname === '/cpu') return cpu(request);
  return null;
}

addEventListener('fetch', (event) =>
  event.respondWith(
    answer(event.request).then((document) =>
      document === null
        ? new Response('', { status: 404 })
        : new Response(JSON.stringify(document), { headers: { 'content-type': 'application/json' } }),
    ),
  ),
);
