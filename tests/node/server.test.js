// nodemailer (the Node peer) → postwire's Server with JS hooks: refusals from async hooks,
// dot-stuffing, a 10 MB message, a throwing hook answering 451 with the server still serving,
// hooks that await timers, every answer form, AUTH through a JS function, logging, stats.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { postwire, message, testCa, within, serve, transport } = require('./helpers');

const pw = postwire();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('several recipients, one refused by an async onRcptTo; onMessage gets envelope and data', async (t) => {
  const got = [];
  const { addr } = await serve(t, {
    async onRcptTo(session, address, params) {
      assert.equal(typeof params, 'object');
      await sleep(5);
      if (address === 'nobody@example.test') return [550, '5.1.1 no such user here'];
    },
    onMessage(session, envelope, data) {
      got.push({ session, envelope, data });
    },
  });
  const info = await transport(addr).sendMail({
    envelope: { from: 'me@example.org', to: ['a@example.test', 'nobody@example.test', 'b@example.test'] },
    raw: message('Three'),
  });
  assert.deepEqual(info.accepted, ['a@example.test', 'b@example.test']);
  assert.deepEqual(info.rejected, ['nobody@example.test']);
  assert.match(info.rejectedErrors[0].response, /^550 5\.1\.1 no such user here/);
  assert.equal(got.length, 1);
  const { session, envelope, data } = got[0];
  assert.deepEqual(envelope.rcptTo, ['a@example.test', 'b@example.test']);
  assert.equal(envelope.mailFrom, 'me@example.org');
  assert.equal(session.helo, 'client.example.org');
  assert.equal(session.peer.host, '127.0.0.1');
  assert.equal(session.tls, false);
  assert.ok(Buffer.isBuffer(data));
  const text = data.toString();
  assert.match(text, /^Received: from client\.example\.org/);
  assert.match(text, /Subject: Three\r\n/);
});

test('dot-stuffing: lines starting with dots arrive as sent', async (t) => {
  let data;
  const { addr } = await serve(t, { onMessage(s, e, d) { data = d.toString(); } });
  const body = '.\r\n..two dots\r\n.leading\r\nmiddle . dot\r\n';
  await transport(addr).sendMail({ envelope: { from: 'me@example.org', to: ['a@example.test'] }, raw: message('Dots', body) });
  assert.ok(data.endsWith(body), `message body changed: ${JSON.stringify(data.slice(-80))}`);
});

test('a 10 MB message arrives whole', async (t) => {
  let size = 0;
  let tail = '';
  const { addr, server } = await serve(t, { onMessage(s, e, d) { size = d.length; tail = d.subarray(-40).toString(); } });
  const raw = message('Big', 'start\r\n', 10 * 1024 * 1024) + 'the end\r\n';
  const info = await transport(addr).sendMail({ envelope: { from: 'me@example.org', to: ['a@example.test'] }, raw });
  assert.match(info.response, /^250 /);
  assert.ok(size > raw.length, `got ${size} bytes for a ${raw.length}-byte message`);
  assert.ok(tail.endsWith('the end\r\n'), tail);
  assert.ok(server.stats.bytesReceived >= raw.length);
});

test('a throwing hook answers 451 4.3.0 and the next message goes through', async (t) => {
  let calls = 0;
  const logged = [];
  pw.setLogger({ debug() {}, info() {}, warn: (f, m) => logged.push(m), error: (f, m) => logged.push(m) }, 'warn');
  t.after(() => pw.setLogger(null));
  const { addr, server } = await serve(t, {
    onMessage() {
      calls += 1;
      if (calls === 1) throw new Error('hook bug');
    },
  });
  const tr = transport(addr);
  const env = { from: 'me@example.org', to: ['a@example.test'] };
  await assert.rejects(tr.sendMail({ envelope: env, raw: message('One') }), (e) => {
    assert.match(e.response, /^451 4\.3\.0/);
    return true;
  });
  const info = await tr.sendMail({ envelope: env, raw: message('Two') });
  assert.match(info.response, /^250 /);
  assert.equal(calls, 2);
  assert.equal(server.stats.messagesAccepted, 1);
  await server.stop();
  assert.ok(logged.some((m) => m.includes('hook bug')), `log: ${JSON.stringify(logged)}`);
});

test('a rejecting promise and a wrong answer also answer 451; the server keeps serving', async (t) => {
  const answers = [
    () => Promise.reject(new Error('async hook bug')),
    () => 'not an answer',
    () => [700, 'no such code'],
    async () => undefined,
  ];
  let i = 0;
  const { addr } = await serve(t, { onMailFrom: () => answers[i++]() });
  const tr = transport(addr);
  const env = { from: 'me@example.org', to: ['a@example.test'] };
  for (let k = 0; k < 3; k++) {
    await assert.rejects(tr.sendMail({ envelope: env, raw: message() }), (e) => /^451 4\.3\.0/.test(e.response));
  }
  const info = await tr.sendMail({ envelope: env, raw: message() });
  assert.match(info.response, /^250 /);
});

test('hooks that await timers; every answer form refuses with its reply', async (t) => {
  const forms = {
    'array@example.test': () => [550, '5.7.1 array form'],
    'object@example.test': async () => { await sleep(20); return { code: 551, text: '5.1.6 object form' }; },
    'reply@example.test': () => new pw.Reply(553, '5.1.3 reply form'),
    'later@example.test': () => new Promise((r) => setTimeout(() => r([452, '4.2.2 later form']), 30)),
  };
  let connected = 0;
  const { addr } = await serve(t, {
    onConnect: async () => { await sleep(10); connected += 1; },
    onRcptTo: (s, address) => (forms[address] || (() => undefined))(),
  });
  const info = await transport(addr).sendMail({
    envelope: { from: 'me@example.org', to: [...Object.keys(forms), 'ok@example.test'] },
    raw: message(),
  });
  assert.deepEqual(info.accepted, ['ok@example.test']);
  const responses = info.rejectedErrors.map((e) => e.response);
  assert.deepEqual(responses.map((r) => r.slice(0, 9)), ['550 5.7.1', '551 5.1.6', '553 5.1.3', '452 4.2.2']);
  assert.equal(connected, 1);
});

test('onMessage refusal is what the client sees after its final dot', async (t) => {
  const { addr, server } = await serve(t, { onMessage: async () => [554, '5.7.1 spam'] });
  await assert.rejects(
    transport(addr).sendMail({ envelope: { from: 'me@example.org', to: ['a@example.test'] }, raw: message() }),
    (e) => /^554 5\.7\.1 spam/.test(e.response),
  );
  assert.equal(server.stats.messagesRejected, 1);
});

test('relay refused by policy with 550 5.7.1 before any hook', async (t) => {
  let called = false;
  const { addr } = await serve(t, { onRcptTo: () => { called = true; } });
  const info = await transport(addr).sendMail({
    envelope: { from: 'me@example.org', to: ['a@example.test', 'x@elsewhere.example'] }, raw: message(),
  });
  assert.deepEqual(info.rejected, ['x@elsewhere.example']);
  assert.match(info.rejectedErrors[0].response, /^550 5\.7\.1/);
  assert.equal(called, true, 'the local recipient went through the hook');
});

test('AUTH over STARTTLS checked by an async JS function; the session shows the user', async (t) => {
  const ca = testCa();
  const users = [];
  const { addr } = await serve(t, {
    tlsCert: ca.cert, tlsKey: ca.key,
    async auth(user, password) { await sleep(5); return user === 'alice' && password === 's3cret'; },
    onMessage(session) { users.push([session.authenticatedUser, session.tls]); },
  });
  const opts = { ignoreTLS: false, requireTLS: true, tls: { ca: require('node:fs').readFileSync(ca.ca), servername: 'localhost' } };
  const env = { from: 'me@example.org', to: ['a@example.test'] };
  await assert.rejects(
    transport(addr, { ...opts, auth: { user: 'alice', pass: 'wrong' } }).sendMail({ envelope: env, raw: message() }),
    (e) => e.code === 'EAUTH' && /^535/.test(e.response),
  );
  const info = await transport(addr, { ...opts, auth: { user: 'alice', pass: 's3cret' } }).sendMail({ envelope: env, raw: message() });
  assert.match(info.response, /^250 /);
  assert.deepEqual(users, [['alice', true]]);
});

test('a {user: password} map as auth, listen on two addresses, stats and stop()', async (t) => {
  const server = new pw.Server({ hostname: 'mx.example.test', localDomains: ['example.test'], auth: { bob: 'pw' }, allowInsecureAuth: true });
  const a1 = await server.listen('127.0.0.1', 0);
  const a2 = await server.listen('127.0.0.1', 0);
  assert.deepEqual(server.addresses.map((a) => a.port), [a1.port, a2.port]);
  assert.equal(server.running, false);
  server.start();
  server.start(); // started once: the second start is the same server
  assert.equal(server.running, true);
  await assert.rejects(server.listen('127.0.0.1', 0), (e) => e.code === 'PW_INVALID_INPUT' && /before start\(\)/.test(e.message));
  const info = await transport(a2, { auth: { user: 'bob', pass: 'pw' } })
    .sendMail({ envelope: { from: 'me@example.org', to: ['a@example.test'] }, raw: message() });
  assert.match(info.response, /^250 /);
  const s = server.stats;
  assert.equal(s.connections, 1);
  assert.equal(s.messagesAccepted, 1);
  assert.equal(s.recipientsAccepted, 1);
  await within(30000, server.stop(), 'stop()');
  assert.equal(server.running, false);
  await server.stop();
  // A stopped server never serves again: a start or a listen says to make a new one.
  const stopped = (e) => e.code === 'PW_INVALID_INPUT' && e.kind === 'invalid_input' && /stopped; build a new Server/.test(e.message);
  assert.throws(() => server.start(), stopped);
  await assert.rejects(server.listen('127.0.0.1', 0), stopped);
  assert.equal(server.running, false);
  assert.deepEqual(server.addresses.map((a) => a.port), [a1.port, a2.port]);
});

test('the logger option receives the core log records', async (t) => {
  const records = [];
  const logger = {};
  for (const level of ['debug', 'info', 'warn', 'error']) logger[level] = (fields, msg) => records.push({ level, fields, msg });
  t.after(() => pw.setLogger(null));
  const { addr, server } = await serve(t, { logger });
  await transport(addr).sendMail({ envelope: { from: 'me@example.org', to: ['a@example.test'] }, raw: message() });
  await server.stop();
  assert.ok(records.length > 0, 'no records');
  assert.ok(records.every((r) => typeof r.msg === 'string' && typeof r.fields.target === 'string'));
  assert.ok(records.some((r) => r.fields.target.startsWith('postwire')), JSON.stringify(records.slice(0, 3)));
  assert.ok(records.every((r) => r.level !== 'debug'), 'a logger option forwards info and above');
});

test('bad options throw PW_INVALID_INPUT synchronously', () => {
  for (const bad of [{ maxRecipients: 0 }, { relayNetworks: ['not-a-net'] }, { timeouts: -1 }, { delivery: 'tape:/x' }]) {
    assert.throws(() => new pw.Server(bad), (e) => e.code === 'PW_INVALID_INPUT' && e.kind === 'invalid_input', JSON.stringify(bad));
  }
});

test('the core\'s admission and junk limits are reachable: maxConnectionsPerIp, connectionLimitExceptions, maxJunkCommands', async (t) => {
  const server = new pw.Server({
    hostname: 'mx.example.test',
    maxConnectionsPerIp: 1,
    connectionLimitExceptions: [], // loopback is exempt by default
    maxJunkCommands: 2,
    minDataRate: 0,
    hookTimeout: 5,
  });
  const addr = await server.listen();
  server.start();
  t.after(() => server.stop());
  const first = await pw.Client.connect(addr.host, addr.port, { tls: 'none', timeout: 10 });
  await assert.rejects(pw.Client.connect(addr.host, addr.port, { tls: 'none', timeout: 10 }),
    (e) => e.reply && e.reply.code === 421 && e.reply.enhanced === '4.7.0');
  assert.equal((await first.noop()).code, 250);
  assert.equal((await first.noop()).code, 250);
  // The third: 421 4.7.0 and the server closes (a reply, or an error carrying it).
  const third = await first.noop().catch((e) => e.reply);
  assert.deepEqual([third.code, third.enhanced], [421, '4.7.0']);
  assert.equal(server.stats.refusedConnections, 1);
});
