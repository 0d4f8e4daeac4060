// Received-trace analysis through the Node binding: `parseReceived` on the 181 real headers of
// tests/vectors/received-stalwart.json with the same results as the Rust suite
// (core/tests/trace_corpus.rs, the same date corrections), `analyzeReceived` on the shared
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

// The corpus' expected fields, in the Rust test's terms.
const host = (v) => (v && (v.Name ?? v.IpAddr)) ?? null;
const str = (v) => (typeof v === 'string' ? v : null);
const tls = (v) => (typeof v === 'string' ? v.replace('_', '.') : null);
function date(v) {
  if (!v) return null;
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const zone = v.tz_hour === 0 && v.tz_minute === 0 ? 'Z' : `${v.tz_before_gmt ? '-' : '+'}${p(v.tz_hour)}:${p(v.tz_minute)}`;
  return `${p(v.year, 4)}-${p(v.month)}-${p(v.day)}T${p(v.hour)}:${p(v.minute)}:${p(v.second)}${zone}`;
}
// Where the corpus records mail-parser's own misreading (see core/tests/trace_corpus.rs).
const DATE_CORRECTIONS = new Map([
  [13, '2003-02-07T10:18:12-08:00'], [67, '2003-02-12T14:22:21-08:00'], [69, '2003-02-20T16:13:20-07:00'],
  [117, '2005-11-13T14:50:12Z'], [118, '2005-11-13T15:38:52Z'], [151, '2018-09-14T14:36:56-04:00'],
  [163, '2006-06-02T08:15:21-07:00'],
]);

test('parseReceived: the 181-header corpus field for field, as in Rust', () => {
  const cases = vectors('received-stalwart.json');
  assert.equal(cases.length, 181);
  const failures = [];
  cases.forEach((c, i) => {
    const e = c.expected;
    const got = pw.parseReceived(c.header);
    const wantDate = DATE_CORRECTIONS.get(i) ?? date(e.date);
    if (DATE_CORRECTIONS.has(i)) assert.notEqual(date(e.date), wantDate, `#${i} is no longer a correction`);
    const fields = [
      ['from', host(e.from), got.from], ['fromIp', str(e.from_ip), got.fromIp],
      ['fromIprev', str(e.from_iprev), got.fromIprev], ['by', host(e.by), got.by],
      ['for', str(e.for_), got.for], ['with', str(e.with), got.with],
      ['tlsVersion', tls(e.tls_version), got.tlsVersion], ['tlsCipher', str(e.tls_cipher), got.tlsCipher],
      ['id', str(e.id), got.id], ['ident', str(e.ident), got.ident], ['helo', host(e.helo), got.helo],
      ['heloCmd', str(e.helo_cmd) && e.helo_cmd.toUpperCase(), got.heloCmd], ['via', str(e.via), got.via],
      ['date', wantDate, got.date],
    ];
    for (const [name, want, have] of fields) {
      if (want !== have) failures.push(`#${i} ${name}: got ${have}, expected ${want} in ${JSON.stringify(c.header)}`);
    }
    assert.ok(Array.isArray(got.defects));
  });
  assert.deepEqual(failures, [], `${failures.length} mismatches`);
});

const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

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
