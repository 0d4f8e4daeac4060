// The open-relay checker through the Node binding (`checkRelay`), against the servers of the
// Rust suite core/tests/relay_check.rs: our own Server closed (nothing relayed) and open for
// 127.0.0.0/8 (everything it can parse relayed), and an accept-all smtp-server (open).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { postwire, smtpServer, closedPort } = require('./helpers');

const pw = postwire();
const CHECK = { tls: 'none', timeout: 20, helo: 'checker.client.test' };

/** Our Server for `test.example` as `mx.test.example`; `open` lets 127.0.0.0/8 relay. */
async function ours(t, open) {
  const server = new pw.Server({
    hostname: 'mx.test.example',
    localDomains: ['test.example'],
    relayNetworks: open ? ['127.0.0.0/8'] : [],
    timeouts: 20,
  });
  const addr = await server.listen('127.0.0.1', 0);
  server.start();
  t.after(() => server.stop());
  return addr.port;
}

const relayed = (r) => r.results.filter((p) => !p.control && p.verdict === 'relayed').map((p) => p.name);

test('our server closed relays nothing', async (t) => {
  const r = await pw.checkRelay('127.0.0.1', await ours(t, false), CHECK);
  assert.ok(r.results.length >= 40, `${r.results.length} probes`);
  assert.equal(r.open, false, r.evidence.join(', '));
  assert.equal(r.inconclusive, false);
  assert.deepEqual(relayed(r), []);
  assert.deepEqual(r.evidence, []);
  assert.equal(r.serverName, 'mx.test.example');
  const control = r.results.filter((p) => p.control);
  assert.equal(control.length, 1);
  assert.equal(control[0].verdict, 'relayed', control[0].transcript.join('\n'));
  for (const p of r.results) {
    assert.ok(p.transcript.some((l) => l.startsWith(' -> MAIL FROM:')), `${p.name}: ${p.transcript}`);
    assert.ok(p.transcript.includes(' -> RSET'), `${p.name}: no RSET`);
    assert.ok(p.reply, `${p.name} has no reply`);
    if (p.verdict === 'refused') assert.ok(p.reply.code >= 500, `${p.name}: ${p.reply.code}`);
  }
  const plain = r.results.find((p) => p.name === 'nmap_foreign_to_foreign');
  assert.deepEqual([plain.reply.code, plain.reply.enhanced], [550, '5.7.1'], 'refused by policy');
});

test('our server open for 127.0.0.0/8 relays everything it can parse', async (t) => {
  const r = await pw.checkRelay('127.0.0.1', await ours(t, true), CHECK);
  assert.equal(r.open, true);
  const names = relayed(r);
  assert.ok(names.length >= 20, names.join(', '));
  for (const p of r.results.filter((x) => x.verdict !== 'relayed')) {
    assert.ok([501, 553, 555].includes(p.reply.code), `${p.name}: ${JSON.stringify(p.reply)}`);
    assert.notEqual(p.reply.enhanced, '5.7.1', p.name);
  }
  assert.deepEqual(r.evidence, names);
});

test('an accept-all smtp-server is open', async (t) => {
  const srv = await smtpServer({
    name: 'accept-all.test', authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, _s, cb) {
      stream.resume();
      stream.on('end', () => cb());
    },
  });
  t.after(() => srv.close());
  const r = await pw.checkRelay('127.0.0.1', srv.port, CHECK);
  assert.equal(r.open, true);
  assert.ok(r.evidence.includes('nmap_foreign_to_foreign'), r.evidence.join(', '));
  assert.equal(r.serverName, 'accept-all.test');
});

test('tests selects a subset; an unknown probe or option is PW_INVALID_INPUT; nothing listening is PW_CONNECT', async (t) => {
  const port = await ours(t, false);
  const r = await pw.checkRelay('127.0.0.1', port, { ...CHECK, tests: ['nmap_null_sender', 'external_to_internal'] });
  assert.deepEqual(r.results.map((p) => p.name), ['nmap_null_sender', 'external_to_internal']);
  const one = await pw.checkRelay('127.0.0.1', port, { ...CHECK, tests: 'nmap_null_sender' });
  assert.equal(one.results.length, 1);
  await assert.rejects(pw.checkRelay('127.0.0.1', port, { ...CHECK, tests: ['no_such_probe'] }),
    (e) => e.code === 'PW_INVALID_INPUT' && /nmap_null_sender/.test(e.message));
  await assert.rejects(async () => pw.checkRelay('127.0.0.1', port, { ...CHECK, probeDomian: 'x.test' }),
    (e) => e.code === 'PW_INVALID_INPUT' && /probe_domian/.test(e.message));
  await assert.rejects(pw.checkRelay('127.0.0.1', await closedPort(), { ...CHECK, timeout: 5 }), { code: 'PW_CONNECT' });
});
