// Where a Server's sessions run (`sessionsOn`): on the JS thread (the default; the core's
// TickedRuntime stepped by libuv, hooks called without a thread hand-off) or on postwire's
// runtime. Both must give the same answers; the JS-thread one must keep its timers, survive a
// hook that blocks the thread, and end with the worker thread it was started on.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { postwire, message, within, nodeChild, serve, transport } = require('./helpers');

const pw = postwire();
const PKG = process.env.POSTWIRE_PACKAGE || require('node:path').join(__dirname, '..', '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One run of the same conversation against a server with `sessionsOn: mode`; what a user sees. */
async function conversation(t, mode) {
  const seen = [];
  let answers = 0;
  const { server, addr } = await serve(t, {
    sessionsOn: mode,
    onConnect(session) {
      seen.push(['connect', session.peer.host, session.helo]);
    },
    async onRcptTo(session, address) {
      await sleep(2);
      if (address.startsWith('nobody')) return [550, '5.1.1 no such user here'];
    },
    onMailFrom(session, address) {
      seen.push(['mail', address, session.helo]);
      // An answer whose `code` getter throws: the hook failed (451), nothing escapes as uncaught.
      if (address === 'odd@example.org') {
        answers += 1;
        return { get code() { throw new Error('getter bug'); }, text: 'x' };
      }
    },
    onMessage(session, envelope, data) {
      seen.push(['message', envelope.mailFrom, envelope.rcptTo, data.toString().split('\r\n\r\n')[1]]);
    },
  });
  const placed = server.sessionsOn;
  const tr = transport(addr);
  const out = [];
  const info = await tr.sendMail({
    envelope: { from: 'me@example.org', to: ['a@example.test', 'nobody@example.test'] },
    raw: message('One', 'first\r\n'),
  });
  out.push([info.accepted, info.rejected, info.response.slice(0, 3)]);
  const odd = await tr.sendMail({ envelope: { from: 'odd@example.org', to: ['a@example.test'] }, raw: message() })
    .catch((e) => e.response);
  out.push(odd.slice(0, 9));
  const again = await tr.sendMail({ envelope: { from: 'me@example.org', to: ['b@example.test'] }, raw: message('Two', 'second\r\n') });
  out.push(again.response.slice(0, 3));
  await server.stop();
  return { seen, out, answers, stats: server.stats, placed };
}

test('the same conversation gives the same answers with sessions on the JS thread and on the runtime', async (t) => {
  const js = await conversation(t, 'jsThread');
  const rt = await conversation(t, 'runtime');
  // Where they ran (a silent fallback to the runtime would make this test compare a mode with
  // itself); the JS thread can host them on Linux.
  assert.equal(js.placed, process.platform === 'linux' ? 'jsThread' : 'runtime');
  assert.equal(rt.placed, 'runtime');
  assert.deepEqual(js.out, [[['a@example.test'], ['nobody@example.test'], '250'], '451 4.3.0', '250']);
  assert.deepEqual(js.out, rt.out);
  assert.deepEqual(js.seen, rt.seen);
  assert.equal(js.answers, 1);
  assert.deepEqual(
    [js.stats.messagesAccepted, js.stats.recipientsRejected],
    [rt.stats.messagesAccepted, rt.stats.recipientsRejected],
  );
  assert.equal(js.stats.messagesAccepted, 2);
});

test('sessionsOn takes jsThread or runtime; anything else is PW_INVALID_INPUT', () => {
  for (const bad of ['js', 'workers', 1, true]) {
    assert.throws(() => new pw.Server({ sessionsOn: bad }), (e) => e.code === 'PW_INVALID_INPUT', String(bad));
  }
  for (const good of ['jsThread', 'runtime', undefined, null]) {
    assert.ok(new pw.Server({ sessionsOn: good }));
  }
});

test('on the JS thread, a session\'s command timeout still fires (the runtime\'s timers are ticked)', async (t) => {
  const { addr } = await serve(t, { timeouts: { command: 0.3 }, onConnect() {} });
  const c = await pw.Client.connect(addr.host, addr.port, { tls: 'none', timeout: 10 });
  t.after(() => c.quit().catch(() => {}));
  // Idle past the command timeout: the server says 421 and closes; the next command finds that.
  await sleep(600);
  const r = await within(10000, c.noop().then((reply) => ({ reply }), (error) => ({ error })), 'the noop after the timeout');
  // Either the 421 itself, or the connection the server closed after it.
  assert.ok(r.error || r.reply.code === 421, `got ${JSON.stringify(r)}`);
});

test('after a hook that blocks the JS thread for a while, every message still goes through', async (t) => {
  let blocked = 0;
  const got = [];
  const { addr } = await serve(t, {
    onMessage(session, envelope) {
      if (blocked++ === 0) {
        const end = Date.now() + 300;
        while (Date.now() < end) { /* a synchronous hook that keeps the thread */ }
      }
      got.push(envelope.rcptTo[0]);
    },
  });
  const tr = transport(addr);
  const sends = ['a', 'b', 'c'].map((u) =>
    tr.sendMail({ envelope: { from: 'me@example.org', to: [`${u}@example.test`] }, raw: message(u) }));
  const infos = await within(20000, Promise.all(sends), 'three sends');
  assert.deepEqual(infos.map((i) => i.response.slice(0, 3)), ['250', '250', '250']);
  assert.deepEqual(got.sort(), ['a@example.test', 'b@example.test', 'c@example.test']);
});

test('a server started on a worker thread serves there and ends with that thread', async () => {
  const code = `
    const { Worker } = require('node:worker_threads');
    const pw = require(${JSON.stringify(PKG)});
    const w = new Worker(\`
      const { parentPort } = require('node:worker_threads');
      const pw = require(${JSON.stringify(PKG)});
      let kept = 0;
      const s = new pw.Server({ hostname: 'mx.worker.test', localDomains: ['example.test'], onMessage() { kept += 1; parentPort.postMessage({ kept }); } });
      s.listen('127.0.0.1', 0).then((a) => { s.start(); parentPort.postMessage({ port: a.port }); });
    \`, { eval: true });
    let kept;
    const keptSeen = new Promise((r) => { kept = r; });
    w.on('message', async (m) => {
      if (m.kept) kept(m.kept);
      if (!m.port) return;
      const c = await pw.Client.connect('127.0.0.1', m.port, { tls: 'none', timeout: 10 });
      const r = await c.send('me@example.org', ['a@example.test'], 'Subject: w\\r\\n\\r\\nhi\\r\\n');
      console.log('sent ' + r.reply.code);
      await c.quit();
      console.log('kept ' + await keptSeen);
      await w.terminate();
      for (let i = 0; i < 100; i++) {
        const refused = await pw.Client.connect('127.0.0.1', m.port, { tls: 'none', timeout: 2 })
          .then((c) => c.quit().then(() => false), () => true);
        if (refused) { console.log('gone'); return; }
        await new Promise((r) => setTimeout(r, 50));
      }
      console.log('still serving');
    });
  `;
  const { lines, exited } = nodeChild(code);
  const end = await within(30000, exited, 'the child');
  assert.equal(end.code, 0, end.stderr);
  assert.deepEqual(lines, ['sent 250', 'kept 1', 'gone']);
});

test('servers side by side on one thread: two on the JS thread, one on the runtime; a hook stops its own server', async (t) => {
  const kept = { a: 0, b: 0, c: 0 };
  const made = {};
  for (const [name, mode] of [['a', 'jsThread'], ['b', 'jsThread'], ['c', 'runtime']]) {
    made[name] = await serve(t, {
      sessionsOn: mode,
      onMessage() {
        kept[name] += 1;
        // Stopping from inside a hook: this transaction still finishes (graceful stop).
        if (name === 'b') made.b.stopped = made.b.server.stop();
      },
    });
  }
  assert.deepEqual(['a', 'b', 'c'].map((n) => made[n].server.sessionsOn),
    process.platform === 'linux' ? ['jsThread', 'jsThread', 'runtime'] : ['runtime', 'runtime', 'runtime']);
  const env = { from: 'me@example.org', to: ['x@example.test'] };
  const infos = await within(20000, Promise.all(['a', 'b', 'c'].map((n) =>
    transport(made[n].addr).sendMail({ envelope: env, raw: message(n) }))), 'three sends');
  assert.deepEqual(infos.map((i) => i.response.slice(0, 3)), ['250', '250', '250']);
  await within(20000, made.b.stopped, 'the stop begun in a hook');
  assert.equal(made.b.server.running, false);
  assert.equal(made.a.server.running, true, 'stopping one server leaves its neighbour on the same runtime serving');
  const again = await transport(made.a.addr).sendMail({ envelope: env, raw: message('again') });
  assert.match(again.response, /^250 /);
  assert.deepEqual(kept, { a: 2, b: 1, c: 1 });
});

test('process.exit() inside a hook exits with its code', async () => {
  const code = `
    const pw = require(${JSON.stringify(PKG)});
    const s = new pw.Server({ hostname: 'mx.exit.test', localDomains: ['example.test'], onMessage() { process.exit(3); } });
    s.listen('127.0.0.1', 0).then(async (a) => {
      s.start();
      const c = await pw.Client.connect('127.0.0.1', a.port, { tls: 'none', timeout: 10 });
      await c.send('me@example.org', ['a@example.test'], 'Subject: x\\r\\n\\r\\nbye\\r\\n');
    });
  `;
  const { exited } = nodeChild(code);
  const end = await within(30000, exited, 'the child');
  assert.equal(end.code, 3, end.stderr);
});

/** One message over a plain socket, without any ESMTP parameter. */
function rawMessage(port) {
  const net = require('node:net');
  const lines = ['EHLO raw.example.org', 'MAIL FROM:<me@example.org>', 'RCPT TO:<a@example.test>', 'DATA',
    'Subject: raw\r\n\r\nz\r\n.', 'QUIT'];
  return within(20000, new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    sock.on('data', (d) => {
      buf += d;
      // One command per complete reply (a reply ends with a line "NNN text").
      while (/^\d{3} [^\n]*\n/m.test(buf)) {
        buf = buf.replace(/^(?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\n/, '');
        const next = lines.shift();
        if (next === undefined) return;
        sock.write(`${next}\r\n`);
      }
    });
    sock.on('close', resolve);
    sock.on('error', reject);
  }), 'the raw conversation');
}

test('hooks see the ESMTP parameters and the AsyncLocalStorage store of new Server(...) in both placements', async (t) => {
  const { AsyncLocalStorage } = require('node:async_hooks');
  const als = new AsyncLocalStorage();
  const seen = {};
  for (const mode of ['jsThread', 'runtime']) {
    const got = [];
    const server = als.run(`store-${mode}`, () => new pw.Server({
      hostname: 'mx.example.test', localDomains: ['example.test'], advertiseDsn: true, sessionsOn: mode,
      onRcptTo(session, address, params) { got.push(['rcpt', address, params, als.getStore()]); },
      async onMessage(session, envelope) {
        await sleep(1);
        got.push(['message', envelope.mailParams, envelope.rcptParams, als.getStore()]);
      },
    }));
    const addr = await server.listen('127.0.0.1', 0);
    server.start();
    t.after(() => server.stop());
    const c = await pw.Client.connect(addr.host, addr.port, { tls: 'none', timeout: 10 });
    // One message with parameters (BODY on MAIL, NOTIFY on one RCPT), one without any.
    await c.send('me@example.org', ['a@example.test', 'b@example.test'], 'Subject: p\r\n\r\nx\r\n',
      { dsn: { notify: ['never'] } });
    await c.quit();
    // And one with no parameter at all (our client sends SIZE): by hand.
    await rawMessage(addr.port);
    await server.stop();
    seen[mode] = got;
  }
  for (const mode of ['jsThread', 'runtime']) {
    assert.ok(seen[mode].every((g) => g.pop() === `store-${mode}`), `${mode}: ${JSON.stringify(seen[mode])}`);
  }
  assert.deepEqual(seen.jsThread, seen.runtime);
  const messages = seen.jsThread.filter((g) => g[0] === 'message');
  assert.equal(messages.length, 2);
  assert.deepEqual(messages[0][2].map((p) => p.NOTIFY), ['NEVER', 'NEVER']);
  assert.deepEqual([messages[1][1], messages[1][2]], [{}, [{}]]);
});
