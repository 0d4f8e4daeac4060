// postwire's Client (and Pool, sendMail) → Node's smtp-server (the peer): plain, STARTTLS with
// a test CA, AUTH, per-recipient refusals, the other commands, the transcript.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { postwire, smtpServer, testCa, message, until } = require('./helpers');

const pw = postwire();

/** An smtp-server that records what it received and refuses `refuse` recipients with 550. */
async function peerServer(t, extra = {}, refuse = []) {
  const received = [];
  const srv = await smtpServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    onRcptTo(address, session, cb) {
      if (refuse.includes(address.address)) {
        const err = new Error('5.1.1 no such user');
        err.responseCode = 550;
        return cb(err);
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        received.push({ envelope: session.envelope, data: Buffer.concat(chunks).toString(), user: session.user, secure: session.secure });
        cb(null, 'Ok queued as ABC123XYZ');
      });
    },
    ...extra,
  });
  t.after(() => srv.close());
  return { ...srv, received };
}

test('plain session: capabilities, banner, send with a refused recipient, transcript, quit', async (t) => {
  const srv = await peerServer(t, {}, ['nobody@example.net']);
  const c = await pw.Client.connect('127.0.0.1', srv.port, { tls: 'none', helloName: 'client.example.org' });
  assert.equal(c.banner.code, 220);
  assert.ok('PIPELINING' in c.capabilities, JSON.stringify(c.capabilities));
  assert.equal(c.tls, false);
  assert.equal(c.helloName, 'client.example.org');
  const r = await c.send('me@example.org', ['a@example.net', 'nobody@example.net'], message('Plain', '.dot line\r\nend\r\n'));
  assert.deepEqual(r.accepted, ['a@example.net']);
  assert.equal(r.rejected.length, 1);
  assert.equal(r.rejected[0].rcpt, 'nobody@example.net');
  assert.equal(r.rejected[0].reply.code, 550);
  assert.ok(r.rejected[0].reply instanceof pw.Reply);
  assert.equal(r.reply.code, 250);
  assert.equal(r.queueId, 'ABC123XYZ');
  assert.equal(typeof r.timings.total, 'number');
  assert.equal(r.timings.tls, null);
  assert.equal(srv.received.length, 1);
  assert.ok(srv.received[0].data.includes('\r\n.dot line\r\n'), 'dot-stuffing undone by the peer');
  assert.deepEqual(srv.received[0].envelope.rcptTo.map((x) => x.address), ['a@example.net']);
  assert.ok(c.transcript.some((l) => l.startsWith('C: MAIL FROM:<me@example.org>')), c.transcript.join('\n'));
  assert.ok(c.transcript.some((l) => l.startsWith('S: 550')));
  const bye = await c.quit();
  assert.equal(bye.code, 221);
  assert.equal(c.closed, true);
});

test('message as a Buffer with bare LF lines; one recipient as a string', async (t) => {
  const srv = await peerServer(t);
  const c = await pw.Client.connect('127.0.0.1', srv.port, { tls: 'none' });
  const r = await c.send('me@example.org', 'a@example.net', Buffer.from('Subject: lf\n\nline one\nline two\n'));
  assert.deepEqual(r.accepted, ['a@example.net']);
  assert.match(srv.received[0].data, /line one\r\nline two\r\n/);
  await c.quit();
});

test('STARTTLS with a test CA, then AUTH; the peer sees a secure authenticated session', async (t) => {
  const ca = testCa();
  const fs = require('node:fs');
  const srv = await peerServer(t, {
    disabledCommands: [],
    authOptional: false,
    key: fs.readFileSync(ca.key),
    cert: fs.readFileSync(ca.cert),
    onAuth(auth, session, cb) {
      if (auth.username === 'alice' && auth.password === 's3cret') return cb(null, { user: 'alice' });
      cb(new Error('Invalid username or password'));
    },
  });
  const c = await pw.Client.connect('127.0.0.1', srv.port, { tls: 'starttls', caFile: ca.ca, tlsServerName: 'localhost' });
  assert.equal(c.tls, true);
  assert.ok('AUTH' in c.capabilities);
  const ok = await c.login('alice', 's3cret');
  assert.equal(ok.code, 235);
  assert.equal(c.authenticatedUser, 'alice');
  assert.ok(c.transcript.every((l) => !l.includes('s3cret') && !l.includes(Buffer.from('\0alice\0s3cret').toString('base64'))), 'secret masked');
  const r = await c.send('me@example.org', ['a@example.net'], message('TLS'));
  assert.equal(r.reply.code, 250);
  assert.equal(typeof r.timings.mail, 'number');
  assert.deepEqual([srv.received[0].user, srv.received[0].secure], ['alice', true]);
  await c.quit();
});

test('a certificate from an unknown CA is refused (PW_TLS); the same with the CA file is accepted', async (t) => {
  const ca = testCa();
  const fs = require('node:fs');
  const srv = await peerServer(t, { disabledCommands: ['AUTH'], key: fs.readFileSync(ca.key), cert: fs.readFileSync(ca.cert) });
  await assert.rejects(pw.Client.connect('127.0.0.1', srv.port, { tls: 'starttls', tlsServerName: 'localhost' }),
    (e) => e.code === 'PW_TLS' && e.kind === 'tls');
  const c = await pw.Client.connect('127.0.0.1', srv.port, { tls: 'starttls', caFile: ca.ca, tlsServerName: 'localhost' });
  assert.equal(c.tls, true);
  await c.quit();
});

test('VRFY, EXPN, HELP, NOOP, RSET answer with replies', async (t) => {
  const srv = await peerServer(t);
  const c = await pw.Client.connect('127.0.0.1', srv.port, { tls: 'none' });
  const noop = await c.noop();
  assert.equal(noop.code, 250);
  assert.equal((await c.reset()).code, 250);
  const help = await c.help();
  assert.ok(help.code === 214 || help.code === 502, String(help));
  const vrfy = await c.verify('a@example.net');
  assert.ok(vrfy.code >= 200 && vrfy.code < 600 && vrfy.code !== 421, String(vrfy));
  assert.equal(typeof (await c.expand('list')).code, 'number');
  assert.equal(noop.toJSON().code, 250);
  assert.equal(JSON.parse(JSON.stringify(noop)).code, 250);
  await c.quit();
});

test('calls on one client run one after the other', async (t) => {
  const srv = await peerServer(t);
  const c = await pw.Client.connect('127.0.0.1', srv.port, { tls: 'none' });
  const sends = [];
  for (let i = 0; i < 5; i++) sends.push(c.send('me@example.org', [`r${i}@example.net`], message(`n${i}`)));
  const results = await Promise.all(sends);
  assert.deepEqual(results.map((r) => r.accepted[0]), [0, 1, 2, 3, 4].map((i) => `r${i}@example.net`));
  assert.equal(srv.received.length, 5);
  await c.quit();
});

test('getters answer while a call is in flight, with the state as of the previous call', async (t) => {
  let release;
  let inHook = false;
  const gate = new Promise((r) => { release = r; });
  const server = new pw.Server({
    hostname: 'mx.example.test',
    localDomains: ['example.test'],
    onMessage: async () => {
      inHook = true;
      await gate;
    },
  });
  const addr = await server.listen();
  server.start();
  t.after(() => server.stop());
  const c = await pw.Client.connect(addr.host, addr.port, { tls: 'none', timeout: 20 });
  const before = c.transcript.length;
  const sending = c.send('me@example.org', ['a@example.test'], message());
  await until(20000, () => inHook, 'the hook');
  // The send holds the session, waiting for the reply to its final dot: the getters still answer.
  assert.equal(c.inFlight, true);
  assert.equal(c.banner.code, 220);
  assert.ok('SIZE' in c.capabilities, JSON.stringify(c.capabilities));
  assert.equal(c.tls, false);
  assert.equal(c.closed, false);
  assert.equal(c.helloName.length > 0, true);
  assert.equal(c.transcript.length, before, 'the transcript as of the end of the previous call');
  release();
  const r = await sending;
  assert.equal(r.reply.code, 250);
  assert.equal(c.inFlight, false);
  assert.ok(c.transcript.length > before);
  assert.ok(c.transcript.some((l) => l.startsWith('C: MAIL FROM:')), c.transcript.join('\n'));
  await c.quit();
  assert.equal(c.closed, true);
});

test('send with dsn: the RFC 3461 parameters reach a server that offers DSN, and only such a server', async (t) => {
  const seen = [];
  const upper = (params) => Object.fromEntries(Object.entries(params).map(([k, v]) => [k.toUpperCase(), v]));
  const hooks = {
    onMailFrom: (_s, address, params) => { seen.push(['MAIL', address, upper(params)]); },
    onRcptTo: (_s, address, params) => { seen.push(['RCPT', address, upper(params)]); },
  };
  const withDsn = new pw.Server({ hostname: 'mx.example.test', localDomains: ['example.test'], advertiseDsn: true, ...hooks });
  const plain = new pw.Server({ hostname: 'mx2.example.test', localDomains: ['example.test'], ...hooks });
  const a = await withDsn.listen();
  const b = await plain.listen();
  withDsn.start();
  plain.start();
  t.after(() => Promise.all([withDsn.stop(), plain.stop()]));
  const dsn = { ret: 'hdrs', envid: 'ENV-1', notify: 'SUCCESS,FAILURE', orcpt: true };

  const c = await pw.Client.connect(a.host, a.port, { tls: 'none' });
  assert.ok('DSN' in c.capabilities, JSON.stringify(c.capabilities));
  const r = await c.send('me@example.org', ['a@example.test'], message(), { dsn, mailOptions: ['XFOO=bar'], rcptOptions: { XBAZ: 'qux' } });
  assert.equal(r.reply.code, 250);
  await c.quit();
  const [mail, rcpt] = seen.splice(0);
  assert.equal(mail[2].XFOO, 'bar');
  assert.equal(rcpt[2].XBAZ, 'qux', 'an ESMTP keyword in a map is data, not an option name to convert');
  assert.equal(mail[2].RET, 'HDRS');
  assert.equal(mail[2].ENVID, 'ENV-1');
  assert.equal(rcpt[1], 'a@example.test');
  assert.equal(rcpt[2].NOTIFY, 'SUCCESS,FAILURE');
  assert.match(rcpt[2].ORCPT, /^rfc822;a@example\.test$/i);

  const c2 = await pw.Client.connect(b.host, b.port, { tls: 'none' });
  assert.ok(!('DSN' in c2.capabilities), 'DSN is off by default');
  assert.equal((await c2.send('me@example.org', ['a@example.test'], message(), { dsn })).reply.code, 250);
  await c2.quit();
  assert.deepEqual(seen.map(([, , params]) => Object.keys(params).filter((k) => ['RET', 'ENVID', 'NOTIFY', 'ORCPT'].includes(k))), [[], []],
    'no DSN parameter to a server that does not offer DSN');
  await assert.rejects(async () => c2.send('me@example.org', ['a@example.test'], message(), { dsn: { notify: 'SOMETIMES' } }),
    (e) => e.code === 'PW_INVALID_INPUT' && /notify/.test(e.message));
  await assert.rejects(async () => c2.send('me@example.org', ['a@example.test'], message(), { dns: {} }),
    (e) => e.code === 'PW_INVALID_INPUT' && /dns/.test(e.message));

  // The pool takes the same options.
  seen.splice(0);
  const pool = new pw.Pool();
  const dest = { host: a.host, port: a.port, tls: 'none' };
  assert.equal((await pool.send(dest, 'me@example.org', 'a@example.test', message(), { dsn })).reply.code, 250);
  await assert.rejects(async () => pool.send(dest, 'me@example.org', 'a@example.test', message(), { dsn: { ret: 'most' } }),
    (e) => e.code === 'PW_INVALID_INPUT');
  await pool.close();
  const [pooledMail] = seen.splice(0);
  assert.equal(pooledMail[2].RET, 'HDRS');
  assert.equal(pooledMail[2].ENVID, 'ENV-1');
});

test('Pool: sessions reused per destination, stats, close', async (t) => {
  const srv = await peerServer(t);
  const pool = new pw.Pool({ maxConnections: 2, maxPerDestination: 2 });
  const dest = { host: '127.0.0.1', port: srv.port, tls: 'none' };
  const jobs = [];
  for (let i = 0; i < 6; i++) jobs.push(pool.send(dest, 'me@example.org', [`p${i}@example.net`], message(`p${i}`)));
  const results = await Promise.all(jobs);
  assert.ok(results.every((r) => r.reply.code === 250));
  assert.equal(srv.received.length, 6);
  const s = pool.stats;
  assert.ok(s.created >= 1 && s.created <= 2, JSON.stringify(s));
  assert.equal(s.reused, 6 - s.created);
  await pool.close();
  await assert.rejects(pool.send(dest, 'me@example.org', ['x@example.net'], message()), (e) => e.code === 'PW_INVALID_INPUT');
});

test('Pool destination with credentials over STARTTLS', async (t) => {
  const ca = testCa();
  const fs = require('node:fs');
  const srv = await peerServer(t, {
    disabledCommands: [], authOptional: false, key: fs.readFileSync(ca.key), cert: fs.readFileSync(ca.cert),
    onAuth: (auth, s, cb) => (auth.password === 'pw' ? cb(null, { user: auth.username }) : cb(new Error('no'))),
  });
  const pool = new pw.Pool();
  const dest = { host: '127.0.0.1', port: srv.port, tls: 'starttls', caFile: ca.ca, tlsServerName: 'localhost', credentials: { user: 'carol', password: 'pw' } };
  const r = await pool.send(dest, 'me@example.org', 'a@example.net', message());
  assert.equal(r.reply.code, 250);
  assert.equal(srv.received[0].user, 'carol');
  await assert.rejects(pool.send({ ...dest, credentials: { user: 'carol', password: 'bad' } }, 'me@example.org', 'a@example.net', message()),
    (e) => e.code === 'PW_AUTH');
  await pool.close();
});

test('sendMail through a smarthost: one result per recipient, refusals carry their error', async (t) => {
  const srv = await peerServer(t, {}, ['nobody@example.net']);
  const results = await pw.sendMail('me@example.org', ['a@example.net', 'nobody@example.net'], message(), {
    smarthost: '127.0.0.1', port: srv.port, tls: 'none',
  });
  assert.deepEqual(results.map((r) => [r.rcpt, r.ok]), [['a@example.net', true], ['nobody@example.net', false]]);
  assert.equal(results[0].error, null);
  assert.equal(results[1].reply.code, 550);
  assert.ok(results[1].error instanceof Error);
  assert.equal(results[1].error.code, 'PW_REJECTED');
});

test('compose: headers, Bcc only in the envelope, attachments, sent as composed', async (t) => {
  const srv = await peerServer(t);
  const msg = pw.compose('Me <me@example.org>', ['you@example.net'], 'Grüße', 'Hello!\n', {
    cc: 'cc@example.net', bcc: ['hidden@example.net'], headers: { 'Reply-To': 'r@example.org' },
    attachments: [{ filename: 'a.txt', contentType: 'text/plain', data: 'attached text' }], date: 1700000000, messageId: 'abc@example.org',
  });
  assert.ok(Buffer.isBuffer(msg));
  const text = msg.toString();
  assert.match(text, /^Subject: =\?utf-8\?/m);
  assert.match(text, /^Reply-To: r@example.org\r$/m);
  assert.match(text, /^Message-ID: <abc@example.org>\r$/m);
  assert.ok(!/hidden@example\.net/.test(text), 'Bcc must not appear in the message');
  assert.match(text, /filename="a.txt"/);
  const c = await pw.Client.connect('127.0.0.1', srv.port, { tls: 'none' });
  await c.send('me@example.org', ['you@example.net', 'cc@example.net', 'hidden@example.net'], msg);
  assert.equal(srv.received[0].envelope.rcptTo.length, 3);
  await c.quit();
  assert.throws(() => pw.compose('me@example.org', 'you@example.net', 'bad\r\nBcc: x@y', 'x'), (e) => e.code === 'PW_INVALID_INPUT');
});
