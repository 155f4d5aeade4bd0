// The same three handlers in Node.js, natively: what the Netflix next generation chose.
//   node bench/baselines/node_server.mjs PORT BACKEND_URL
import http from 'node:http';

const [port, backend] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function get(path) {
  return new Promise((resolve, reject) => {
    http.get(`${backend}${path}`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

function send(res, document) {
  const body = JSON.stringify(document);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

http.createServer(async (req, res) => {
  if (req.url === '/hello') return send(res, { hello: 'world' });
  if (req.url === '/aggregate') return send(res, { parts: await Promise.all(['a', 'b', 'c'].map((p) => get(`/${p}`))) });
  if (req.url === '/cpu') {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const { items } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const out = items.filter((i) => i.score > 0.5)
      .map((i) => ({ id: i.id, name: i.name.toUpperCase(), score: Math.round(i.score * 100) }));
    return send(res, { count: out.length, total: out.reduce((s, i) => s + i.score, 0), items: out });
  }
  res.writeHead(404).end();
}).listen(Number(port), '127.0.0.1');
