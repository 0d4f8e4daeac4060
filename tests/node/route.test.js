// MX routing through the Node binding: `resolveMx` against the test DNS server (postwire-testdns
// serving tests/dns/zone.json, the zone and cases of the Rust suite core/tests/route_resolve.rs),
// and `sendMail` without a smarthost delivering by MX to smtp-server on 127.0.0.x.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { postwire, testDns, receivers } = require('./helpers');

const pw = postwire();
let dns;
test.before(async () => {
  dns = await testDns();
});
test.after(() => dns && dns.close());

const resolve = (domain, opts = {}) => pw.resolveMx(domain, { nameservers: [dns.nameserver], ...opts });

/** `promise` rejects with `code`; returns the error. */
async function rejection(promise, code) {
  let caught;
  await assert.rejects(promise, (e) => {
    caught = e;
    return true;
  });
  assert.equal(caught.code, code, `${caught.code}: ${caught.message}`);
  return caught;
}

test('a CNAME chain is followed and reported, MX sorted by preference', async () => {
  const r = await resolve('chain.abc.test');
  assert.equal(r.domain, 'chain.abc.test');
  assert.deepEqual(r.cnameChain, ['sh.abc.test', 'shmail.abc.test']);
  assert.equal(r.canonical, 'shmail.abc.test');
  assert.equal(r.implicit, false);
  assert.equal(r.nullMx, false);
  assert.deepEqual(r.hosts.map((h) => [h.preference, h.exchange]), [[5, 'shmail.abc.test'], [10, 'shmail2.abc.test']]);
  assert.deepEqual(r.hosts[0].addresses, ['127.0.0.2', '::1'], 'A and AAAA');
  assert.deepEqual(r.hosts[1].addresses, ['127.0.0.3']);
  assert.ok(r.explanation.some((s) => s.kind === 'query' && s.detail.includes('MX shmail.abc.test')), JSON.stringify(r.explanation));
  assert.ok(r.explanation.some((s) => s.detail.includes('sh.abc.test CNAME shmail.abc.test')));
});

test('no MX: the domain itself is the implicit exchanger', async () => {
  const r = await resolve('implicit.test');
  assert.equal(r.implicit, true);
  assert.deepEqual(r.hosts.map((h) => [h.preference, h.exchange, h.addresses]), [[0, 'implicit.test', ['127.0.0.4', '::1']]]);
});

test('a null MX is reported with no hosts', async () => {
  const r = await resolve('nullmx.test');
  assert.equal(r.nullMx, true);
  assert.deepEqual(r.hosts, []);
});

test('NXDOMAIN is a permanent PW_DNS error, SERVFAIL a transient one', async () => {
  const nx = await rejection(resolve('nope.test'), 'PW_DNS');
  assert.equal(nx.kind, 'dns');
  assert.ok(nx.reply.isPermanent, nx.reply.toString());
  const sf = await rejection(resolve('servfail.test'), 'PW_DNS');
  assert.ok(sf.reply.isTransient, sf.reply.toString());
  assert.match(sf.message, /SERVFAIL/);
});

test('a CNAME loop and an overlong chain are detected; a longer cap resolves the chain', async () => {
  assert.match((await rejection(resolve('loop1.test'), 'PW_DNS')).message, /CNAME loop/);
  assert.match((await rejection(resolve('deep0.test'), 'PW_DNS')).message, /longer than 8/);
  const long = await resolve('deep0.test', { maxCnameChain: 12 });
  assert.equal(long.cnameChain.length, 10);
  assert.equal(long.canonical, 'deep10.test');
});

test('equal preferences come in every order over seeds, and a seed repeats its order', async () => {
  const orders = new Set();
  for (let seed = 0; seed < 60 && orders.size < 6; seed++) {
    const names = (await resolve('equal.test', { seed })).hosts.map((h) => h.exchange);
    assert.equal(names.length, 4);
    assert.equal(names[3], 'd.equal.test', 'preference 20 stays last');
    orders.add(names.slice(0, 3).join(','));
  }
  assert.equal(orders.size, 6, [...orders].join(' | '));
  assert.deepEqual((await resolve('equal.test', { seed: 3 })).hosts, (await resolve('equal.test', { seed: 3 })).hosts);
});

test('our own host drops itself and every worse preference', async () => {
  const r = await resolve('self.test', { ownHostnames: ['MX.self.test'] });
  assert.deepEqual(r.hosts.map((h) => h.exchange), ['other1.self.test']);
  assert.ok(r.explanation.some((s) => s.kind === 'skip' && s.detail.includes('other3.self.test')));
  const e = await rejection(resolve('selfonly.test', { ownHostnames: ['mx.self.test'] }), 'PW_DNS');
  assert.match(e.message, /loops back to myself/);
  assert.ok(e.reply.isPermanent);
});

test('an unknown option or a bad domain is PW_INVALID_INPUT', async () => {
  const e = await rejection((async () => pw.resolveMx('chain.abc.test', { nameserver: ['127.0.0.1:53'] }))(), 'PW_INVALID_INPUT');
  assert.match(e.message, /nameserver/);
  await rejection(resolve('bad domain..test'), 'PW_INVALID_INPUT');
});

const MSG = 'From: s@sender.test\r\nTo: u@backup.test\r\nSubject: routed\r\n\r\nHello by MX.\r\n';

test('sendMail without a smarthost routes by MX: primary down, the backup takes it', async (t) => {
  // mx1.backup.test (127.0.0.31) has nothing listening; mx2.backup.test (127.0.0.32) does.
  const peers = await receivers(['127.0.0.32', '127.0.0.31'], [undefined, null]);
  t.after(() => peers.close());
  const res = await pw.sendMail('s@sender.test', ['u@backup.test'], MSG, {
    nameservers: [dns.nameserver], allowLoopback: true, port: peers.port, tls: 'none', timeout: 10,
  });
  assert.equal(res.length, 1);
  assert.equal(res[0].ok, true, JSON.stringify(res));
  assert.equal(peers.servers[0].got.length, 1);
  assert.match(peers.servers[0].got[0].data, /Hello by MX\./);
});

test('sendMail by MX: the loopback guard refuses loopback exchangers unless allowed', async (t) => {
  const peers = await receivers(['127.0.0.32']);
  t.after(() => peers.close());
  const res = await pw.sendMail('s@sender.test', 'u@backup.test', MSG, {
    nameservers: [dns.nameserver], port: peers.port, tls: 'none', timeout: 10,
  });
  assert.equal(res[0].ok, false);
  assert.equal(res[0].error.code, 'PW_DNS', JSON.stringify(res[0].error));
  assert.match(res[0].error.message, /allowLoopback|allow_loopback/);
  assert.equal(res[0].reply.code, 554);
  assert.equal(peers.servers[0].got.length, 0, 'nothing was sent');
});

test('sendMail by MX to a null-MX domain fails at once with 556 5.1.10', async () => {
  const res = await pw.sendMail('s@sender.test', ['u@nullmx.test'], MSG, {
    nameservers: [dns.nameserver], allowLoopback: true, tls: 'none', timeout: 10,
  });
  assert.equal(res[0].ok, false);
  assert.equal(res[0].reply.code, 556);
  assert.equal(res[0].reply.enhanced, '5.1.10');
});
