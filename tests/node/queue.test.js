// The durable queue through the Node binding (`new Queue(spoolDir, options)`), delivering by MX
// through the test DNS server to smtp-server on 127.0.0.x — the cases of the Rust suite
// core/tests/queue_delivery.rs: a 4xx is queued and retried, a 5xx bounces with exactly one DSN
// to the sender's server, the null sender never gets one.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');
const assert = require('node:assert/strict');
const { postwire, testDns, receiver, receivers, until } = require('./helpers');

const pw = postwire();
let dns;
test.before(async () => {
  dns = await testDns();
});
test.after(() => dns && dns.close());

const BODY = 'From: s@sender.test\r\nTo: good@dest.test\r\nSubject: queued\r\n\r\nQueued body.\r\n';

/** A queue on a fresh spool delivering to `port` of the zone's exchangers. */
function queue(t, port, extra = {}) {
  const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'postwire-node-queue-'));
  t.after(() => fs.rmSync(spool, { recursive: true, force: true }));
  const q = new pw.Queue(spool, {
    nameservers: [dns.nameserver], port, allowLoopback: true, tls: 'none', timeout: 10,
    retry: [0.2], hostname: 'queue.test', ...extra,
  });
  return { q, spool };
}

/** `run()` until `check()` holds (each round delivers what became due). */
async function drain(q, check, what) {
  await until(20000, async () => {
    await q.run();
    return check();
  }, what);
}

test('a 5xx bounces with exactly one DSN, from <>, to the sender\'s server', async (t) => {
  // dest.test → 127.0.0.33 (refuses bad@), sender.test → 127.0.0.35 (gets the DSN).
  const peers = await receivers(['127.0.0.33', '127.0.0.35'],
    [(rcpt) => (rcpt.startsWith('bad@') ? [550, '5.1.1 no such user'] : null)]);
  t.after(() => peers.close());
  const [dest, sender] = peers.servers;
  const { q } = queue(t, peers.port);
  const id = await q.submit({
    mailFrom: 's@sender.test',
    rcptTo: ['good@dest.test', { address: 'bad@dest.test', orcpt: 'rfc822;alias@dest.test' }],
    envid: 'ENV-5XX',
    ret: 'hdrs',
  }, BODY);
  assert.equal(typeof id, 'string');
  const stats = await q.run();
  assert.deepEqual([stats.delivered, stats.failed, stats.notices], [1, 1, 1], JSON.stringify(stats));
  await drain(q, () => sender.got.length >= 1, 'the DSN');
  await q.run();
  assert.ok(!(await q.list()).some((e) => e.id === id), 'the bounced entry is gone');
  assert.deepEqual(dest.got.map((m) => [m.from, m.to]), [['s@sender.test', ['good@dest.test']]]);
  assert.equal(sender.got.length, 1, 'exactly one DSN');
  const dsn = sender.got[0];
  assert.equal(dsn.from, '', 'a DSN comes from <>');
  assert.deepEqual(dsn.to, ['s@sender.test']);
  for (const needle of [
    'Final-Recipient: rfc822; bad@dest.test', 'Original-Recipient: rfc822; alias@dest.test',
    'Original-Envelope-Id: ENV-5XX', 'Action: failed', 'Status: 5.1.1', 'Subject: queued',
  ]) {
    assert.ok(dsn.data.includes(needle), `${needle} missing in\n${dsn.data}`);
  }
  assert.ok(!dsn.data.includes('Queued body.'), 'RET=HDRS: headers only');
  assert.ok(!/Final-Recipient: rfc822; ?good@dest\.test/i.test(dsn.data), 'only the failed recipient is reported');
});

test('the null sender never gets a DSN, and NOTIFY=NEVER is honoured', async (t) => {
  const peers = await receivers(['127.0.0.33', '127.0.0.35'], [() => [550, '5.1.1 no such user']]);
  t.after(() => peers.close());
  const [, sender] = peers.servers;
  const { q } = queue(t, peers.port);
  await q.submit({ mailFrom: '', rcptTo: 'bad@dest.test' }, BODY);
  await q.submit({ mailFrom: 's@sender.test', rcptTo: [{ address: 'bad@dest.test', notify: 'NEVER' }] }, Buffer.from(BODY));
  const stats = await q.run();
  assert.deepEqual([stats.failed, stats.notices], [2, 0], JSON.stringify(stats));
  assert.deepEqual(await q.list(), []);
  await q.flush();
  assert.equal(sender.got.length, 0, 'no notice went anywhere');
});

test('a 4xx is queued, listed with its reply and retried on the schedule until delivered', async (t) => {
  let deferred = 0;
  const peers = await receivers(['127.0.0.33'], [() => (deferred++ === 0 ? [451, '4.3.0 try again later'] : null)]);
  t.after(() => peers.close());
  const [dest] = peers.servers;
  const { q } = queue(t, peers.port);
  const id = await q.submit({ mailFrom: 's@sender.test', rcptTo: ['later@dest.test'] }, BODY);
  const stats = await q.run();
  assert.equal(stats.deferred, 1, JSON.stringify(stats));
  const [e] = await q.list();
  assert.equal(e.id, id);
  assert.equal(e.mailFrom, 's@sender.test');
  assert.equal(e.attempts, 1);
  assert.equal(e.recipients[0].rcpt, 'later@dest.test');
  assert.equal(e.recipients[0].status, 'pending');
  assert.equal(e.recipients[0].lastReply.code, 451);
  assert.ok(e.nextTryMs > e.createdMs, 'a next try is scheduled');
  await drain(q, () => dest.got.length === 1, 'the retry');
  assert.deepEqual(await q.list(), []);
  assert.equal(dest.got.length, 1, 'delivered once');
});

test('start() delivers in the background, stop() ends it', async (t) => {
  const peers = await receivers(['127.0.0.33']);
  t.after(() => peers.close());
  const [dest] = peers.servers;
  const { q } = queue(t, peers.port, { pollInterval: 0.1 });
  q.start();
  t.after(() => q.stop());
  assert.equal(q.running, true);
  await q.submit({ mailFrom: 's@sender.test', rcptTo: ['a@dest.test', 'b@dest.test'] }, BODY);
  await until(20000, () => dest.got.length === 1, 'background delivery');
  assert.deepEqual(dest.got[0].to, ['a@dest.test', 'b@dest.test'], 'one transaction per destination');
  await q.stop();
  assert.equal(q.running, false);
});

test('bad envelopes and options are PW_INVALID_INPUT; a spool in use is PW_IO', async (t) => {
  const { q, spool } = queue(t, 25);
  // A malformed envelope throws at once; a bad address is found by the queue (a rejection).
  assert.throws(() => q.submit({ mailFrom: 's@sender.test', rcptTo: [] }, BODY), { code: 'PW_INVALID_INPUT' });
  assert.throws(() => q.submit({ mailFrom: 's@sender.test', rcpt: ['a@dest.test'] }, BODY),
    (e) => e.code === 'PW_INVALID_INPUT' && /rcpt/.test(e.message));
  await assert.rejects(q.submit({ mailFrom: 's@sender.test', rcptTo: ['not an address'] }, BODY), { code: 'PW_INVALID_INPUT' });
  assert.throws(() => new pw.Queue(spool + '-other', { smarthots: 'x' }), (e) => e.code === 'PW_INVALID_INPUT' && /smarthots/.test(e.message));
  assert.throws(() => new pw.Queue(spool), (e) => e.code === 'PW_IO' && /in use/.test(e.message));
  assert.deepEqual(await q.list(), [], 'nothing was kept');
});

test('relay mode: a Server with delivery "queue:DIR" answers 250 once queued and relays through queueSmarthost', async (t) => {
  const rcv = await receiver('127.0.0.1', 0);
  t.after(() => rcv.close());
  const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'postwire-node-relay-'));
  t.after(() => fs.rmSync(spool, { recursive: true, force: true }));
  const server = new pw.Server({
    hostname: 'relay.test', relayNetworks: ['127.0.0.0/8'], delivery: `queue:${spool}`,
    queueSmarthost: `127.0.0.1:${rcv.port}`, queueRetry: [0.2], queueMaxAge: 60,
  });
  const addr = await server.listen('127.0.0.1', 0);
  server.start();
  t.after(() => server.stop());
  const c = await pw.Client.connect('127.0.0.1', addr.port, { tls: 'none' });
  assert.ok('DSN' in c.capabilities, 'a server with a queue offers DSN');
  const r = await c.send('me@example.org', ['you@far.example'], BODY);
  assert.deepEqual(r.accepted, ['you@far.example']);
  await c.quit();
  await until(20000, () => rcv.got.length >= 1, 'the relayed message');
  assert.deepEqual([rcv.got[0].from, rcv.got[0].to], ['me@example.org', ['you@far.example']]);
  assert.match(rcv.got[0].data, /Queued body\./);
  assert.match(rcv.got[0].data, /^Received: from /, 'the relay stamped its Received line');
  assert.throws(() => new pw.Server({ queueSmarthost: '127.0.0.1:25' }), (e) => e.code === 'PW_INVALID_INPUT' && /queue_smarthost/.test(e.message));
});
