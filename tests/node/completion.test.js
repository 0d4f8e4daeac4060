// How Promises come back: every call's result reaches the JS thread through one completion
// channel per JS environment (bindings-node/src/completion.rs). Many calls in flight at once
// settle each with its own value or error; a worker
// thread (or the process) that exits with calls in flight does not crash when they finish later
// (that a pending call keeps its process alive is in lifecycle.test.js).
// Crash-prone cases run in child processes; every wait is bounded.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { ROOT, postwire, silentPeer, message, within, until, nodeChild, closedPort } = require('./helpers');

const pw = postwire();
// The children (and their workers) load the package from PW_PKG.
const PKG_ENV = { ...process.env, PW_PKG: process.env.POSTWIRE_PACKAGE || ROOT };

/** Our own server refusing every recipient whose local part starts with `no`. */
async function refusingServer(t) {
  const got = [];
  const server = new pw.Server({
    hostname: 'mx.example.test',
    localDomains: ['example.test'],
    // Hundreds of NOOPs and refusals per session are the point here, not abuse.
    maxJunkCommands: 0,
    maxErrors: 1000,
    onRcptTo: (s, address) => (address.startsWith('no') ? [550, '5.1.1 unknown'] : undefined),
    onMessage: (s, envelope) => { got.push(envelope.rcptTo.join(',')); },
  });
  const addr = await server.listen();
  server.start();
  t.after(() => server.stop());
  return { addr, got };
}

test('2,000 noop()s and 100 sends in flight at once over 4 clients each settle with their own value or error', async (t) => {
  const { addr, got } = await refusingServer(t);
  const clients = await Promise.all(Array.from({ length: 4 }, () =>
    pw.Client.connect(addr.host, addr.port, { tls: 'none', recordTranscript: false })));
  const calls = [];
  clients.forEach((c, k) => {
    for (let i = 0; i < 500; i++) calls.push(c.noop().then((r) => ['noop', r.code]));
    for (let i = 0; i < 25; i++) {
      const rcpt = `${i % 2 ? 'no' : 'ok'}${k}-${i}@example.test`;
      calls.push(c.send('me@example.org', [rcpt], message(`m${k}-${i}`)).then(
        (r) => ['sent', r.accepted.join(','), r.reply.code],
        (e) => ['refused', e.code, e.rejected.map((x) => `${x.rcpt} ${x.reply.code}`).join(',')],
      ));
    }
  });
  const results = await within(120000, Promise.all(calls), 'every call settling');
  let i = 0;
  for (let k = 0; k < 4; k++) {
    for (let n = 0; n < 500; n++) assert.deepEqual(results[i++], ['noop', 250]);
    for (let n = 0; n < 25; n++) {
      const rcpt = `${n % 2 ? 'no' : 'ok'}${k}-${n}@example.test`;
      assert.deepEqual(results[i++], n % 2 ? ['refused', 'PW_REJECTED', `${rcpt} 550`] : ['sent', rcpt, 250]);
    }
  }
  assert.equal(got.length, 4 * 13, 'every accepted message delivered once');
  await Promise.all(clients.map((c) => c.quit()));
});

test('500 pool.send()s queued at once settle with their own result; a refused one rejects with its recipient', async (t) => {
  const { addr, got } = await refusingServer(t);
  const pool = new pw.Pool({ maxConnections: 3, maxPerDestination: 3 });
  t.after(() => pool.close());
  const dest = { host: addr.host, port: addr.port, tls: 'none' };
  const calls = Array.from({ length: 500 }, (_, i) => {
    const rcpt = `${i % 5 === 0 ? 'no' : 'ok'}-${i}@example.test`;
    return pool.send(dest, 'me@example.org', [rcpt], message(`p${i}`)).then(
      (r) => `sent ${r.accepted.join(',')}`,
      (e) => `${e.code} ${e.rejected.map((x) => x.rcpt).join(',')}`,
    );
  });
  const results = await within(120000, Promise.all(calls), 'every pool send settling');
  results.forEach((r, i) => {
    const rcpt = `${i % 5 === 0 ? 'no' : 'ok'}-${i}@example.test`;
    assert.equal(r, i % 5 === 0 ? `PW_REJECTED ${rcpt}` : `sent ${rcpt}`);
  });
  assert.equal(got.length, 400);
});

/** Run `code` in a child node with the package path in `PW_PKG`. */
function child(code) {
  return nodeChild(code, { stdin: 'pipe', env: PKG_ENV });
}

test('worker threads exiting with calls in flight: the calls finish later without a crash, the process carries on', async (t) => {
  const peer = await silentPeer(t);
  // Two workers start 20 connects each and exit (process.exit() in one, terminate() from
  // outside for the other) while every connect is held by the peer; the test then lets the
  // peer answer, so the calls finish on the runtime after their environments are gone. The
  // main thread then makes calls of its own, and a third worker one that settles.
  const { child: p, lines, exited } = child(`
    const { Worker } = require('node:worker_threads');
    const pw = require(process.env.PW_PKG);
    const PORT = ${peer.port};
    const body = (how) => \`
      const { parentPort } = require('node:worker_threads');
      const pw = require(process.env.PW_PKG);
      for (let i = 0; i < 20; i++) pw.Client.connect('127.0.0.1', \${PORT}, { tls: 'none', timeout: 60 }).catch(() => {});
      parentPort.postMessage('calling');
      \${how === 'exit' ? "setTimeout(() => process.exit(7), 100);" : ''}
    \`;
    const gone = (how) => new Promise((resolve) => {
      const w = new Worker(body(how), { eval: true });
      w.on('message', () => { if (how === 'terminate') setTimeout(() => w.terminate(), 100); });
      w.on('error', (e) => console.log('worker error', e.message));
      w.on('exit', (code) => resolve(code));
    });
    Promise.all([gone('exit'), gone('terminate')]).then((codes) => {
      console.log('workers exited', codes.join(','));
      process.stdin.once('data', async () => {
        // The peer answers now; the old workers' calls finish with nobody to settle them.
        await new Promise((r) => setTimeout(r, 300));
        const c = await pw.Client.connect('127.0.0.1', PORT, { tls: 'none' });
        console.log('main noop', (await c.noop()).code);
        await c.quit();
        const w = new Worker(\`
          const { parentPort } = require('node:worker_threads');
          const pw = require(process.env.PW_PKG);
          pw.Client.connect('127.0.0.1', \${PORT}, { tls: 'none' })
            .then((c) => c.noop().then((r) => c.quit().then(() => parentPort.postMessage(r.code))));
        \`, { eval: true });
        w.on('message', (code) => console.log('worker noop', code));
        w.on('exit', (code) => console.log('worker exit', code));
      });
    });
  `);
  t.after(() => p.kill('SIGKILL'));
  await until(60000, () => lines.length > 0, 'the workers exiting');
  assert.deepEqual(lines, ['workers exited 7,1']);
  await until(30000, () => peer.held.length === 40, 'the 40 connects reaching the peer');
  peer.greet();
  p.stdin.end('go\n');
  const how = await within(60000, exited, 'the child exiting');
  assert.deepEqual([how.code, how.signal], [0, null], how.stderr);
  assert.deepEqual(lines, ['workers exited 7,1', 'main noop 250', 'worker noop 250', 'worker exit 0']);
});

test('process.exit() with 200 calls in flight exits with its code, no crash', async (t) => {
  const { addr } = await refusingServer(t);
  const { child: p, lines, exited } = child(`
    const pw = require(process.env.PW_PKG);
    pw.Client.connect('127.0.0.1', ${addr.port}, { tls: 'none' }).then((c) => {
      for (let i = 0; i < 200; i++) c.noop().catch(() => {});
      console.log('in flight');
      process.exit(3);
    });
  `);
  t.after(() => p.kill('SIGKILL'));
  const how = await within(30000, exited, 'the child exiting');
  assert.deepEqual([how.code, how.signal], [3, null], how.stderr);
  assert.deepEqual(lines, ['in flight']);
});

test('a JS exception thrown while a result is built rejects that Promise and nothing else breaks', async () => {
  // A setter on Object.prototype throws when the addon sets `kind` on the error object of a
  // failed connect: that exception must reject the call's Promise (not stay pending, not be
  // thrown as an uncaught exception from the completion wake-up), and later calls settle.
  const port = await closedPort();
  const { lines, exited } = child(`
    const pw = require(process.env.PW_PKG);
    Object.defineProperty(Object.prototype, 'kind', { set() { throw new Error('setter boom'); }, configurable: true });
    pw.Client.connect('127.0.0.1', ${port}, { tls: 'none', timeout: 10 }).then(
      () => console.log('resolved'),
      (e) => {
        console.log('rejected ' + e.message);
        delete Object.prototype.kind;
        return pw.Client.connect('127.0.0.1', ${port}, { tls: 'none', timeout: 10 })
          .catch((e2) => console.log('then ' + e2.code));
      });
  `);
  const how = await within(60000, exited, 'the child exiting');
  assert.deepEqual(lines, ['rejected setter boom', 'then PW_CONNECT'], how.stderr);
  assert.equal(how.code, 0, how.stderr);
});
