// A tiny HTTP server for sv's quick start: `sv start examples/hello/app.js && sv list`.
const http = require('http');

const port = Number(process.env.PORT || 3000);
const server = http.createServer((req, res) => {
  res.end(`hello from ${process.env.SV_APP_NAME || 'app'} (pid ${process.pid})\n`);
});

server.listen(port, () => {
  console.log(`listening on http://localhost:${port}`);
  // pm2-style readiness: sv records it (--wait-ready comes later).
  if (process.send) process.send('ready');
});

process.on('SIGINT', () => {
  console.log('SIGINT: closing');
  server.close(() => process.exit(0));
});
