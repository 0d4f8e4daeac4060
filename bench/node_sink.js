// Benchmark sink on postwire's Node binding: a Server whose JS onMessage counts messages (the
// trivial hook the rows compare with smtp-server's trivial onData).
// Usage: node bench/node_sink.js PORT   (127.0.0.1:PORT until SIGTERM; prints kept=N on exit)
'use strict';
const pw = require(process.env.POSTWIRE_PACKAGE || require('path').join(__dirname, '..'));

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node node_sink.js PORT');
  process.exit(2);
}
let kept = 0;
const server = new pw.Server({
  hostname: 'sink.bench.test',
  localDomains: ['bench.test'],
  maxConnections: 1000,
  onMessage() {
    kept += 1;
  },
});
server.listen('127.0.0.1', port).then(() => {
  server.start();
  console.log(`postwire node sink: listening on 127.0.0.1:${port}`);
});
const stop = () => server.stop().then(() => {
  console.log(`kept=${kept}`);
  process.exit(0);
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
