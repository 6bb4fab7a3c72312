// A warm function: a long-lived HTTP server (the warm contract). POST /invoke receives the request
// JSON and answers the result JSON; 4xx = non-retryable failure, 5xx = retryable. GET /healthz.
import http from 'node:http';

let served = 0;
const startedAt = new Date().toISOString();

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200).end('ok');
    return;
  }
  if (req.method !== 'POST' || req.url !== '/invoke') {
    res.writeHead(404).end();
    return;
  }
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    const request = JSON.parse(body);
    const name = request.parameters?.name ?? 'world';
    if (name === 'nobody') {
      res
        .writeHead(422, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'nobody to greet' }));
      return;
    }
    served++;
    const delayMs = Number(request.parameters?.delayMs ?? 0);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          greeting: `Hello, ${name}!`,
          pid: process.pid,
          served,
          replicaStartedAt: startedAt,
        }),
      );
    }, delayMs);
  });
});

server.listen(Number(process.env.PONTOON_PORT), '127.0.0.1', () => {
  console.log(`warm-greeter ${process.pid} listening on ${process.env.PONTOON_PORT}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
