// The shared protocol vectors (tests/vectors/*.json) through the Node binding: the results the
// Rust and Python suites get (see tests/vectors/README.md for the format).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, postwire } = require('./helpers');

const pw = postwire();

function load(name) {
  const v = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'vectors', name), 'utf8'));
  assert.ok(v.length > 0, `${name}: no vectors`);
  return v;
}

/** Every key of `expect` must be in `actual` with exactly that value. */
function checkSubset(what, expect, actual) {
  for (const [k, v] of Object.entries(expect)) {
    assert.ok(k in actual, `${what}: ${k} missing in ${JSON.stringify(actual)}`);
    assert.deepStrictEqual(actual[k], v, `${what}: ${k}`);
  }
}

/** Run `check` on every vector; report every failure at once. */
function each(vectors, check) {
  const failures = [];
  vectors.forEach((v, i) => {
    try {
      check(v, i);
    } catch (e) {
      failures.push(e.message);
    }
  });
  assert.deepEqual(failures, []);
}

test('commands.json', () => {
  each(load('commands.json'), (v, i) => {
    const line = 'line' in v ? Buffer.from(v.line, 'utf8') : Buffer.from(v.line_hex, 'hex');
    const got = pw.parseCommand(line, v.strict || false, v.smtputf8 || false);
    const what = `#${i} ${JSON.stringify(line.toString('latin1'))}`;
    if ('expect' in v) {
      assert.ok(!(got instanceof pw.Reply), `${what}: expected a command, got ${got}`);
      checkSubset(what, v.expect, got);
    } else {
      assert.ok(got instanceof pw.Reply, `${what}: expected an error, got ${JSON.stringify(got)}`);
      checkSubset(what, v.error, { code: got.code, enhanced: got.enhanced });
    }
  });
});

test('replies.json', () => {
  each(load('replies.json'), (v, i) => {
    const wire = Buffer.from(v.wire, 'utf8');
    const what = `#${i} ${v.name}`;
    if ('build' in v) {
      const r = new pw.Reply(v.build.code, v.build.text, v.build.enhanced);
      const parsed = pw.parseReply(wire);
      assert.ok(parsed && parsed.reply.equals(r) && parsed.consumed === wire.length, `${what}: ${JSON.stringify(parsed)}`);
      return;
    }
    const limits = v.limits || { max_line: 4096, max_lines: 128 };
    if (v.error) {
      assert.throws(() => pw.parseReply(wire, limits.max_line, limits.max_lines), (e) => e.code === 'PW_PROTOCOL', what);
      return;
    }
    const got = pw.parseReply(wire, limits.max_line, limits.max_lines);
    if (v.incomplete) {
      assert.equal(got, null, `${what}: expected incomplete`);
      return;
    }
    assert.ok(got, `${what}: incomplete`);
    checkSubset(what, v.expect, { code: got.reply.code, enhanced: got.reply.enhanced, lines: got.reply.lines, consumed: got.consumed });
  });
});

test('addresses.json', () => {
  each(load('addresses.json'), (v, i) => {
    const what = `#${i} ${JSON.stringify(v.input)} kind=${v.kind}`;
    let got;
    try {
      got = pw.parseAddress(v.input, v.kind, v.strict || false, v.smtputf8 || false);
    } catch (e) {
      assert.equal(e.code, 'PW_INVALID_INPUT', `${what}: ${e.message}`);
      assert.ok(!('expect' in v), `${what}: error ${e.message}`);
      return;
    }
    assert.ok('expect' in v, `${what}: expected an error, got ${JSON.stringify(got)}`);
    checkSubset(what, v.expect, got);
  });
});

test('relay_probes.json: the probe matrix, reply verdicts and summaries', () => {
  const v = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'vectors', 'relay_probes.json'), 'utf8'));
  const c = v.context;
  const ours = pw.relayProbes({
    bannerName: c.banner_name, ehloName: c.ehlo_name, ip: c.ip, domain: c.domain,
    fromUser: c.from_user, toUser: c.to_user, internalDomain: c.internal_domain,
  });
  assert.ok(v.probes.length >= 40);
  assert.deepEqual(ours.map((p) => [p.name, p.mailFrom, p.rcptTo, p.tricks, p.control]),
    v.probes.map((p) => [p.name, p.mail_from, p.rcpt_to, p.tricks, p.control]));
  each(v.verdicts, (x) => assert.equal(pw.relayVerdict(new pw.Reply(x.code, x.text)), x.verdict, JSON.stringify(x)));
  each(v.summaries, (x) => assert.deepEqual(pw.relaySummary(x.verdicts), { open: x.open, inconclusive: x.inconclusive }, JSON.stringify(x)));
});

test('relayProbes: a left-out context field takes the checker default, as in every runtime', () => {
  const full = pw.relayProbes({ ip: '192.0.2.7', domain: 'relay-probe.invalid', fromUser: 'antispam', toUser: 'relaytest' });
  assert.deepEqual(pw.relayProbes({ ip: '192.0.2.7' }), full);
  assert.ok(full.some((p) => p.rcptTo.includes('relaytest%relay-probe.invalid@[192.0.2.7]')), JSON.stringify(full.slice(0, 3)));
  assert.throws(() => pw.relayProbes({ ip: 'not-an-ip' }), (e) => e.code === 'PW_INVALID_INPUT');
  assert.throws(() => pw.relaySummary(['relayed', 'maybe']), (e) => e.code === 'PW_INVALID_INPUT');
});
