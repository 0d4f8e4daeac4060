// Shared helpers of the Node suite (node:test): the binding under test, the pinned peers
// (tests/peers/node, installed by `make deps`), a test CA made with the openssl command line,
// raw TCP peers for the error cases, and bounded waits. Every test talks over loopback only.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const PEERS = path.join(ROOT, 'tests', 'peers', 'node');

/** The package under test: the repository root (`npm install` built the addon there), or the
 * directory in POSTWIRE_PACKAGE (an installed copy). */
function postwire() {
  return require(process.env.POSTWIRE_PACKAGE || ROOT);
}

/** A pinned peer module, or a clear failure telling to run `make deps` (never a silent pass). */
function peer(name) {
  try {
    return require(require.resolve(name, { paths: [PEERS] }));
  } catch (e) {
    throw new Error(`Node peer ${name} is not installed in tests/peers/node: run \`make deps\` (${e.message})`);
  }
}

let tlsFiles;
/** `{ca, cert, key}` paths: a test CA and a server certificate for 127.0.0.1 / localhost. */
function testCa() {
  if (tlsFiles) return tlsFiles;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postwire-node-ca-'));
  const f = (n) => path.join(dir, n);
  const ssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=postwire test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', f('ca.key'), '-out', f('ca.pem'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('key.pem'), '-out', f('cert.csr'));
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', f('cert.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', f('ext.cnf'), '-out', f('cert.pem'));
  tlsFiles = { ca: f('ca.pem'), cert: f('cert.pem'), key: f('key.pem') };
  return tlsFiles;
}

/** Start an smtp-server (the Node peer) on an ephemeral loopback port; resolves to
 * `{port, server, close()}`. `options` are smtp-server's. */
async function smtpServer(options) {
  const { SMTPServer } = peer('smtp-server');
  const server = new SMTPServer({ logger: false, disableReverseLookup: true, ...options });
  server.on('error', () => {});
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.server.address().port,
    server,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A raw TCP peer on loopback: `onConnection(socket)` decides what it says. */
async function rawServer(onConnection) {
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onConnection(s);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    }),
  };
}

/** A port with nothing listening on it (bound, then closed). */
async function closedPort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A message of about `size` bytes with CRLF lines. */
function message(subject = 'Hello', body = 'Hi there.\r\n', size = 0) {
  let m = `From: me@example.org\r\nTo: you@example.test\r\nSubject: ${subject}\r\n\r\n${body}`;
  while (m.length + 80 <= size) m += 'x'.repeat(76) + '\r\n';
  return m;
}

/** Await `promise`, failing after `ms` (a bound on waiting, never an assertion on time). */
function within(ms, promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

module.exports = { ROOT, PEERS, postwire, peer, testCa, smtpServer, rawServer, closedPort, message, within };
