// Every error kind of the API contract reached through the Node binding, each with its `.code`
// (`'PW_' + KIND`), `.kind`, `.reply` where a server answered, and `.rejected`. Peers: raw TCP
// servers on loopback, smtp-server and postwire's own Server.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { postwire, smtpServer, rawServer, closedPort, message, testDns } = require('./helpers');

const pw = postwire();

/** `promise` must reject with an Error of `code`; returns it. */
async function rejectsWith(promise, code) {
  let caught;
  await assert.rejects(promise, (e) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof Error, `not an Error: ${caught}`);
  assert.equal(caught.code, code, `${caught.code}: ${caught.message}`);
  assert.equal(caught.kind, code.slice(3).toLowerCase());
  assert.ok(Array.isArray(caught.rejected));
  assert.equal(typeof caught.message, 'string');
  return caught;
}

/** A peer that greets, then answers every command with `reply(line)`. */
function scripted(reply) {
  return rawServer((s) => {
    s.write('220 scripted.example ESMTP\r\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        s.write(reply(line));
      }
    });
  });
}

test('connect: nothing listens → PW_CONNECT', async () => {
  const e = await rejectsWith(pw.Client.connect('127.0.0.1', await closedPort(), { tls: 'none', timeout: 10 }), 'PW_CONNECT');
  assert.equal(e.reply, null);
});

test('timeout: a peer that never greets → PW_TIMEOUT', async (t) => {
  const peer = await rawServer(() => {});
  t.after(() => peer.close());
  await rejectsWith(pw.Client.connect('127.0.0.1', peer.port, { tls: 'none', timeout: 0.5 }), 'PW_TIMEOUT');
});

test('tls: STARTTLS required but not offered → PW_TLS', async (t) => {
  const srv = await smtpServer({ disabledCommands: ['STARTTLS', 'AUTH'], authOptional: true });
  t.after(() => srv.close());
  await rejectsWith(pw.Client.connect('127.0.0.1', srv.port, { tls: 'starttls', timeout: 10 }), 'PW_TLS');
});

test('auth: wrong password → PW_AUTH with the 535 reply', async (t) => {
  const server = new pw.Server({ hostname: 'mx.example.test', auth: { alice: 'right' }, allowInsecureAuth: true });
  const addr = await server.listen();
  server.start();
  t.after(() => server.stop());
  const c = await pw.Client.connect(addr.host, addr.port, { tls: 'none', allowPlaintextAuth: true });
  const e = await rejectsWith(c.login('alice', 'wrong'), 'PW_AUTH');
  assert.equal(e.reply.code, 535);
  assert.ok(e.reply instanceof pw.Reply);
  await c.quit();
});

test('protocol: a peer that answers garbage → PW_PROTOCOL', async (t) => {
  const peer = await rawServer((s) => s.write('hello, I am not an SMTP server\r\n'));
  t.after(() => peer.close());
  await rejectsWith(pw.Client.connect('127.0.0.1', peer.port, { tls: 'none', timeout: 10 }), 'PW_PROTOCOL');
});

test('rejected: every recipient refused → PW_REJECTED with the reply', async (t) => {
  const server = new pw.Server({ hostname: 'mx.example.test', localDomains: ['example.test'], onRcptTo: () => [550, '5.1.1 unknown'] });
  const addr = await server.listen();
  server.start();
  t.after(() => server.stop());
  const c = await pw.Client.connect(addr.host, addr.port, { tls: 'none' });
  const e = await rejectsWith(c.send('me@example.org', ['a@example.test', 'b@example.test'], message()), 'PW_REJECTED');
  assert.equal(e.reply.code, 550);
  assert.equal(e.reply.enhanced, '5.1.1');
  // Every refusal, as smtplib's SMTPRecipientsRefused.recipients gives them.
  assert.deepEqual(e.rejected.map((r) => [r.rcpt, r.reply.code, r.reply.enhanced]),
    [['a@example.test', 550, '5.1.1'], ['b@example.test', 550, '5.1.1']]);
  assert.ok(e.rejected[0].reply instanceof pw.Reply);
  await c.quit();
});

test('rejected: a message over the advertised SIZE is refused locally, with no reply', async (t) => {
  const server = new pw.Server({ hostname: 'mx.example.test', localDomains: ['example.test'], maxMessageSize: 1000 });
  const addr = await server.listen();
  server.start();
  t.after(() => server.stop());
  const c = await pw.Client.connect(addr.host, addr.port, { tls: 'none' });
  assert.equal(c.capabilities.SIZE, '1000');
  const e = await rejectsWith(c.send('me@example.org', ['a@example.test'], message('big', '', 5000)), 'PW_REJECTED');
  assert.equal(e.reply, null);
  await c.quit();
});

test('transient: MAIL answered 451 → PW_TRANSIENT with the reply', async (t) => {
  const peer = await scripted((line) => (line.startsWith('MAIL') ? '451 4.3.2 try later\r\n' : line.startsWith('QUIT') ? '221 bye\r\n' : '250 ok\r\n'));
  t.after(() => peer.close());
  const c = await pw.Client.connect('127.0.0.1', peer.port, { tls: 'none', timeout: 10 });
  const e = await rejectsWith(c.send('me@example.org', ['a@example.net'], message()), 'PW_TRANSIENT');
  assert.equal(e.reply.code, 451);
  assert.equal(e.reply.text, 'try later');
});

test('dns: a host name that does not resolve → PW_DNS', async () => {
  const e = await rejectsWith(pw.Client.connect('no-such-host.invalid', 25, { tls: 'none', timeout: 10 }), 'PW_DNS');
  assert.match(e.message, /no-such-host\.invalid/);
});

test('dns: NXDOMAIN from the test DNS server → PW_DNS with a permanent reply', async (t) => {
  const dns = await testDns();
  t.after(() => dns.close());
  const e = await rejectsWith(pw.resolveMx('nope.test', { nameservers: [dns.nameserver] }), 'PW_DNS');
  assert.ok(e.reply.isPermanent, String(e.reply));
});

test('invalid_input: bad arguments and options → PW_INVALID_INPUT', async (t) => {
  await rejectsWith(Promise.resolve().then(() => pw.Client.connect('127.0.0.1', 25, { tls: 'sometimes' })), 'PW_INVALID_INPUT');
  await rejectsWith(Promise.resolve().then(() => pw.Client.connect('127.0.0.1', 25, { timeout: 0 })), 'PW_INVALID_INPUT');
  assert.throws(() => new pw.Reply(99, 'x'), (e) => e.code === 'PW_INVALID_INPUT');
  const server = new pw.Server({ hostname: 'mx.example.test' });
  const addr = await server.listen();
  server.start();
  t.after(() => server.stop());
  const c = await pw.Client.connect(addr.host, addr.port, { tls: 'none' });
  await rejectsWith(c.send('me@example.org', ['bad address@example.test'], message()), 'PW_INVALID_INPUT');
  await rejectsWith(c.send('me@example.org', ['a@example.test\r\nRCPT TO:<b@x>'], message()), 'PW_INVALID_INPUT');
  await c.quit();
});

test('invalid_input: an unknown option is refused, naming it, never ignored', async () => {
  const throwsNaming = (f, name) => assert.throws(f,
    (e) => e instanceof TypeError && e.code === 'PW_INVALID_INPUT' && e.kind === 'invalid_input' && e.message.includes(name), name);
  throwsNaming(() => new pw.Server({ hostname: 'mx.example.test', maxRecipent: 5 }), 'max_recipent');
  throwsNaming(() => new pw.Server({ hostname: 'mx.example.test', timeouts: { comand: 5 } }), 'comand');
  throwsNaming(() => new pw.Server({ hostname: 'mx.example.test', onMesage: () => {} }), 'onMesage');
  throwsNaming(() => new pw.Server({ hostname: 'mx.example.test', onMessage: 'not a function' }), 'onMessage');
  throwsNaming(() => new pw.Pool({ maxConection: 3 }), 'max_conection');
  await rejectsWith(Promise.resolve().then(() => pw.Client.connect('127.0.0.1', 25, { tls: 'none', helloNmae: 'x' })), 'PW_INVALID_INPUT');
  await rejectsWith(Promise.resolve().then(() => pw.sendMail('a@example.org', 'b@example.test', 'x', { smarthost: '127.0.0.1', smartport: 25 })), 'PW_INVALID_INPUT');
  const pool = new pw.Pool();
  await rejectsWith(Promise.resolve().then(() => pool.send({ host: '127.0.0.1', tsl: 'none' }, 'a@example.org', 'b@example.test', 'x')), 'PW_INVALID_INPUT');
  await pool.close();
  throwsNaming(() => pw.compose('a@example.org', 'b@example.test', 's', 't', { attachements: [] }), 'attachements');
  const cyclic = { command: 5 };
  cyclic.self = cyclic;
  throwsNaming(() => new pw.Server({ hostname: 'mx.example.test', timeouts: cyclic }), 'nests too deeply');
    // Wrong types are the core's checks too, with the option's name.
  throwsNaming(() => new pw.Server({ hostname: 'mx.example.test', maxRecipients: 'many' }), 'max_recipients');
});

test('io: listening on a port already in use → PW_IO', async (t) => {
  const a = new pw.Server({ hostname: 'mx.example.test' });
  const addr = await a.listen();
  t.after(() => a.stop());
  const b = new pw.Server({ hostname: 'mx.example.test' });
  await rejectsWith(b.listen(addr.host, addr.port), 'PW_IO');
  assert.throws(() => new pw.Server({ tlsCert: '/nonexistent/cert.pem', tlsKey: '/nonexistent/key.pem' }), (e) => e.code === 'PW_IO');
});

test('the codes follow the core kinds in their fixed order', () => {
  const kinds = ['connect', 'timeout', 'tls', 'auth', 'protocol', 'rejected', 'transient', 'dns', 'invalid_input', 'io'];
  assert.deepEqual(pw.errorCodes(), kinds.map((k) => `PW_${k.toUpperCase()}`));
});
