// Benchmark sink on Node's smtp-server (the pinned peer in tests/peers/node): accepts every
// message and drops it, so bench/server_bench.sh measures the SMTP engine itself.
// Usage: node bench/smtp_server_sink.js PORT   (listens on 127.0.0.1:PORT until SIGTERM)
//
// smtp-server holds every new connection for a fixed 100 ms before the greeting (its
// "early talker" check, not an option). The benchmark compares engines, not that pause, so it is
// removed here by greeting as soon as the listeners are set; everything else is stock.
'use strict';
const path = require('path');
const peers = { paths: [path.join(__dirname, '..', 'tests', 'peers', 'node')] };
let SMTPServer, SMTPConnection;
try {
  ({ SMTPServer } = require(require.resolve('smtp-server', peers)));
  ({ SMTPConnection } = require(require.resolve('smtp-server/lib/smtp-connection.js', peers)));
} catch (e) {
  console.error('smtp-server is not installed: run `make deps`');
  process.exit(2);
}

SMTPConnection.prototype.init = function init() {
  this._setListeners(() => {
    const max = this._server.options.maxClients;
    if (max && this._server.connections.size > max) {
      return this.send(421, this.name + ' Too many connected clients, try again in a moment', false);
    }
    this.connectionReady();
  });
};

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node smtp_server_sink.js PORT');
  process.exit(2);
}

const server = new SMTPServer({
  name: 'sink.bench.test',
  banner: 'smtp-server sink',
  logger: false,
  disabledCommands: ['AUTH', 'STARTTLS'],
  authOptional: true,
  disableReverseLookup: true,
  maxClients: 1000,
  onData(stream, session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => callback(null, 'Ok'));
  },
});
server.on('error', (err) => console.error('smtp-server sink:', err.message));
server.listen(port, '127.0.0.1', () => console.log(`smtp-server sink: listening on 127.0.0.1:${port}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
