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

/** Start an smtp-server (the Node peer) on an ephemeral loopback port (or `port` on `host`, a
 * 127.0.0.x address); resolves to `{port, server, close()}`. `options` are smtp-server's. */
async function smtpServer(options, host = '127.0.0.1', port = 0) {
  const { SMTPServer } = peer('smtp-server');
  const server = new SMTPServer({ logger: false, disableReverseLookup: true, ...options });
  server.on('error', () => {});
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
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

/** A TCP peer that holds every session silent until `greet()`, then greets and answers NOOP/QUIT. */
async function silentPeer(t) {
  const held = [];
  let greeted = false;
  const answer = (s) => {
    s.write('220 peer.test ESMTP\r\n');
    s.on('data', (d) => {
      for (const line of d.toString().split('\r\n').filter(Boolean)) {
        if (/^(EHLO|HELO)/i.test(line)) s.write('250 peer.test\r\n');
        else if (/^QUIT/i.test(line)) s.end('221 bye\r\n');
        else s.write('250 ok\r\n');
      }
    });
  };
  const peer = await rawServer((s) => { if (greeted) answer(s); else held.push(s); });
  t.after(() => peer.close());
  return {
    port: peer.port,
    held,
    greet() { greeted = true; for (const s of held.splice(0)) answer(s); },
  };
}

/** The test DNS server (`postwire-testdns`, built by scripts/test-node.sh) serving
 * tests/dns/zone.json — the zone of every suite; resolves to `{nameserver: "127.0.0.1:PORT",
 * close()}` once it printed `READY <port>`. */
async function testDns() {
  const { spawn } = require('node:child_process');
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
  const bin = process.env.POSTWIRE_TESTDNS || path.join(target, 'debug', 'postwire-testdns');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: cargo build -p postwire-testdns`);
  const child = spawn(bin, ['--zone', path.join(ROOT, 'tests', 'dns', 'zone.json')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await within(20000, new Promise((resolve, reject) => {
    let out = '';
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`postwire-testdns exited with ${code}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  }), 'postwire-testdns READY');
  return {
    nameserver: `127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', resolve);
      child.stdin.end();
      child.kill();
    }),
  };
}

/** A receiving smtp-server on `host:port` (a 127.0.0.x address) that records every message as
 * `{from, to, data}` in `.got`; `refuse(rcpt)` may return `[code, text]` to refuse a recipient
 * (a 4xx defers it). */
async function receiver(host, port, refuse = () => null) {
  const got = [];
  const srv = await smtpServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onRcptTo(address, _session, cb) {
      const no = refuse(address.address);
      if (!no) return cb();
      const e = new Error(no[1]);
      e.responseCode = no[0];
      return cb(e);
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        got.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('latin1'),
        });
        cb();
      });
    },
  }, host, port);
  return { ...srv, got };
}

/** Receivers on the same port of several 127.0.0.x addresses (an MX route has one delivery
 * port): `refusals[i]` is the `refuse` of `hosts[i]`, `null` leaves that address closed.
 * Resolves to `{port, servers, close()}`. */
async function receivers(hosts, refusals = []) {
  for (let attempt = 0; ; attempt++) {
    const servers = [];
    try {
      let port = 0;
      for (const [i, host] of hosts.entries()) {
        if (refusals[i] === null) {
          servers.push(null);
          continue;
        }
        const r = await receiver(host, port, refusals[i] || undefined);
        port = r.port;
        servers.push(r);
      }
      return { port, servers, close: () => Promise.all(servers.filter(Boolean).map((r) => r.close())) };
    } catch (e) {
      await Promise.all(servers.filter(Boolean).map((r) => r.close()));
      if (e.code !== 'EADDRINUSE' || attempt >= 10) throw e;
    }
  }
}

/** Poll `check()` every 50 ms until it is true, failing after `ms`. */
async function until(ms, check, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
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

/**
 * Run `code` in a child `node -e`: `{child, lines, firstLine, exited}` — `lines` grows as the
 * child prints, `firstLine` resolves with its first line, `exited` with `{code, signal, stderr}`.
 */
function nodeChild(code, { stdin = 'ignore', env = process.env } = {}) {
  const { spawn } = require('node:child_process');
  const p = spawn(process.execPath, ['-e', code], { stdio: [stdin, 'pipe', 'pipe'], env });
  const lines = [];
  let first;
  const firstLine = new Promise((resolve) => { first = resolve; });
  let buf = '';
  let err = '';
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      first(lines[0]);
    }
  });
  p.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => p.on('exit', (code, signal) => resolve({ code, signal, stderr: err })));
  return { child: p, lines, firstLine, exited };
}

/**
 * A started postwire Server (`mx.example.test`, local domain `example.test`) with `options`;
 * `t.after` stops it. Where the sessions run by default is asserted: the JS thread on Linux
 * (else the tests of hooks would all run on the runtime without saying so).
 */
async function serve(t, options = {}) {
  const assert = require('node:assert/strict');
  const server = new (postwire().Server)({ hostname: 'mx.example.test', localDomains: ['example.test'], ...options });
  const addr = await server.listen('127.0.0.1', 0);
  server.start();
  t.after(() => server.stop());
  if (!options.sessionsOn && process.platform === 'linux') assert.equal(server.sessionsOn, 'jsThread');
  return { server, addr };
}

/** A nodemailer transport to `addr` (plain, name `client.example.org`). */
function transport(addr, extra = {}) {
  return peer('nodemailer').createTransport({
    host: addr.host, port: addr.port, secure: false, ignoreTLS: true, name: 'client.example.org',
    connectionTimeout: 10000, greetingTimeout: 10000, socketTimeout: 20000, ...extra,
  });
}

module.exports = {
  ROOT, PEERS, postwire, peer, testCa, smtpServer, rawServer, silentPeer, closedPort, message, within, testDns,
  receiver, receivers, until, nodeChild, serve, transport,
};
