// The backend service of the aggregate workload: every answer takes a fixed 20 ms.
//   node bench/baselines/slow_backend.mjs PORT [DELAY_MS]
import http from 'node:http';

const [port, delay = '20'] = process.argv.slice(2);
http.createServer((req, res) => {
  setTimeout(() => {
    const body = JSON.stringify({ path: req.url, ok: true });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }, Number(delay));
}).listen(Number(port), '127.0.0.1');
