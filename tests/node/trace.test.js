// Received-trace analysis through the Node binding: `parseReceived` on the 181 real headers of
// tests/vectors/received-stalwart-expected.json (the expected fields, built and corrected in
// core/tests/trace_corpus.rs only), `analyzeReceived` on the shared
// tests/vectors/received.json cases (core/tests/trace_vectors.rs), and `resolve: true` through
// the test DNS server (core/tests/trace_resolve.rs).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const assert = require('node:assert/strict');
const { ROOT, postwire, testDns } = require('./helpers');

const pw = postwire();
const vectors = (name) => JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'vectors', name), 'utf8'));

// The vectors' field names are the core's JSON ones (the Rust tests, C's `pw_received_to_json`);
// the binding's are camelCase, and `for_` is `for`.
const camel = (k) => (k === 'for_' ? 'for' : k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()));

test('parseReceived: the 181-header corpus field for field, as in Rust', () => {
  const cases = vectors('received-stalwart-expected.json');
  assert.equal(cases.length, 181);
  const failures = [];
  cases.forEach((c, i) => {
    const got = pw.parseReceived(c.header);
    for (const [name, want] of Object.entries(c.expected)) {
      const have = got[camel(name)];
      assert.notEqual(have, undefined, `#${i}: ReceivedLine has no field ${camel(name)}`);
      if (want !== have) failures.push(`#${i} ${name}: got ${have}, expected ${want} in ${JSON.stringify(c.header)}`);
    }
    assert.ok(Array.isArray(got.defects));
  });
  assert.deepEqual(failures, [], `${failures.length} mismatches`);
});

test('analyzeReceived: the shared received.json cases', async () => {
  const cases = vectors('received.json');
  assert.ok(cases.length >= 10);
  const failures = [];
  for (const c of cases) {
    const a = await pw.analyzeReceived(c.message, { trustedHosts: c.trusted_hosts || [], now: c.now ?? null });
    const e = c.expect;
    if (a.hops.length !== e.hops) {
      failures.push(`${c.name}: ${a.hops.length} hops, expected ${e.hops}`);
      continue;
    }
    if (a.suspicious !== e.suspicious) failures.push(`${c.name}: suspicious = ${a.suspicious}`);
    const got = a.findings.map((f) => `${f.kind}@${f.hop ?? '-'}`).sort();
    const want = [...e.findings].sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${c.name}: findings ${got}, expected ${want}`);
    for (const hf of e.hop_fields || []) {
      for (const [k, want] of Object.entries(hf)) {
        if (k === 'index') continue;
        const have = a.hops[hf.index][camel(k)];
        assert.notEqual(have, undefined, `hop has no field ${camel(k)}`);
        if (JSON.stringify(have) !== JSON.stringify(want)) {
          failures.push(`${c.name}: hop ${hf.index} ${k} = ${JSON.stringify(have)}, expected ${JSON.stringify(want)}`);
        }
      }
    }
  }
  assert.deepEqual(failures, []);
});

const TRACED = 'Received: from c.trace.test (c.trace.test [192.0.2.43])\r\n'
  + '\tby mx3.trace.test with ESMTP id C; Tue, 1 Dec 2026 10:00:02 +0000\r\n'
  + 'Received: from b.trace.test (b.trace.test [192.0.2.42])\r\n'
  + '\tby c.trace.test with ESMTP id B; Tue, 1 Dec 2026 10:00:01 +0000\r\n'
  + 'Received: from a.trace.test (good.trace.test [192.0.2.41])\r\n'
  + '\tby b.trace.test with ESMTP id A; Tue, 1 Dec 2026 10:00:00 +0000\r\n'
  + 'Subject: traced\r\n\r\nbody\r\n';

test('analyzeReceived with resolve: forward-confirmed reverse DNS through the nameservers', async (t) => {
  const dns = await testDns();
  t.after(() => dns.close());
  const now = 1796119200; // 2026-12-01T10:00:00Z
  const a = await pw.analyzeReceived(Buffer.from(TRACED), { resolve: true, nameservers: [dns.nameserver], now });
  assert.deepEqual(a.hops.map((h) => [h.fromIp, h.resolvedRdns, h.fcrdns]), [
    ['192.0.2.41', 'good.trace.test', true],
    ['192.0.2.42', 'liar.trace.test', false],
    ['192.0.2.43', null, false],
  ]);
  assert.deepEqual(a.findings.filter((f) => f.kind === 'fcrdns_failed').map((f) => f.hop), [1, 2]);
  assert.ok(a.findings.some((f) => f.kind === 'helo_mismatch' && f.hop === 1 && f.evidence.includes('rdns_now=liar.trace.test')));
  const offline = await pw.analyzeReceived(TRACED, { now });
  assert.ok(offline.hops.every((h) => h.fcrdns === null && h.resolvedRdns === null));
  assert.deepEqual(offline.hops.map((h) => h.byHost), ['b.trace.test', 'c.trace.test', 'mx3.trace.test'], 'oldest hop first');
});

test('bad input: no Received lines is zero hops; nested comments parse; unknown options are PW_INVALID_INPUT', async () => {
  const none = await pw.analyzeReceived('Subject: x\r\n\r\nbody\r\n');
  assert.deepEqual([none.hops.length, none.findings.length, none.suspicious], [0, 0, false]);
  const deep = `Received: from x ${'('.repeat(100000)} by y; Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n`;
  const a = await pw.analyzeReceived(deep);
  assert.equal(a.hops.length, 1);
  const line = pw.parseReceived('garbage without any clause');
  assert.ok(line.defects.length > 0, JSON.stringify(line));
  await assert.rejects(async () => pw.analyzeReceived(TRACED, { trusted: ['x'] }),
    (e) => e.code === 'PW_INVALID_INPUT' && /trusted/.test(e.message));
});
