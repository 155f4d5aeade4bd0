// The backend service of the aggregate workload: every answer takes a fixed 20 ms.
//   node bench/baselines/slow_backend.mjs PORT [DELAY_MS] [CACHE_CONTROL]
// With CACHE_CONTROL its answers carry that header (a cacheable backend).
// `GET /_count` answers at once with how many requests it has served.
import http from 'node:http';

const [port, delay = '20', cacheControl] = process.argv.slice(2);
let served = 0;
http.createServer((req, res) => {
  if (req.url === '/_count') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count: served }));
    return;
  }
  served += 1;
  setTimeout(() => {
    const body = JSON.stringify({ path: req.url, ok: true });
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (cacheControl) headers['cache-control'] = cacheControl;
    res.writeHead(200, headers);
    res.end(body);
  }, Number(delay));
}).listen(Number(port), '127.0.0.1');
