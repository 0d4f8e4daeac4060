// Process lifetime, checked with child `node` processes that must exit on their own: a started
// server (and a started queue) keeps its process alive until `stop()`, then lets it exit; a
// pending call keeps it alive until it settles; a client never quit does not hold its process
// open. (Waits are bounded; nothing asserts on how long anything took.)
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { ROOT, postwire, silentPeer, until, within, nodeChild } = require('./helpers');

const pw = postwire();
const PKG = JSON.stringify(process.env.POSTWIRE_PACKAGE || ROOT);

/** Run `code` in a child node; resolves to `{child, lines, exited}` once it printed its first line. */
async function child(code, stdin = 'ignore') {
  const c = nodeChild(code, { stdin });
  // The tests compare `{code, signal}`; what the child wrote to stderr is shown, not compared.
  const exited = c.exited.then(({ code: status, signal, stderr }) => {
    process.stderr.write(stderr);
    return { code: status, signal };
  });
  await within(30000, Promise.race([c.firstLine, exited]), 'the child starting');
  return { child: c.child, lines: c.lines, exited };
}

test('a started server keeps the process alive; stop() from a hook lets it exit', async (t) => {
  // The child's script ends at once; only the server can keep it running. Its onMessage hook
  // stops the server, after which nothing holds the event loop.
  const { child: p, lines, exited } = await child(`
    const pw = require(${PKG});
    const server = new pw.Server({ hostname: 'mx.example.test', localDomains: ['example.test'],
      onMessage: () => { setImmediate(() => server.stop().then(() => console.log('stopped'))); } });
    server.listen('127.0.0.1', 0).then((a) => { server.start(); console.log(a.port); });
  `);
  t.after(() => p.kill('SIGKILL'));
  const port = Number(lines[0]);
  assert.ok(port > 0, `child said ${lines[0]}`);
  // Still serving after the child's script and its listen() Promise are long done: several
  // sessions one after another, each answered.
  for (let i = 0; i < 3; i++) {
    const c = await pw.Client.connect('127.0.0.1', port, { tls: 'none', timeout: 10 });
    assert.equal((await c.noop()).code, 250);
    await c.quit();
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(p.exitCode, null, 'the child exited while its server was running');
  const c = await pw.Client.connect('127.0.0.1', port, { tls: 'none', timeout: 10 });
  await c.send('me@example.org', ['a@example.test'], 'Subject: stop\r\n\r\nstop\r\n');
  const how = await within(30000, exited, 'the child exiting after stop()');
  assert.deepEqual(how, { code: 0, signal: null });
  assert.deepEqual(lines.slice(1), ['stopped']);
});

test('a client never quit does not keep its process alive', async (t) => {
  const server = new pw.Server({ hostname: 'mx.example.test' });
  const addr = await server.listen();
  server.start();
  t.after(() => server.stop());
  const { child: p, lines, exited } = await child(`
    const pw = require(${PKG});
    pw.Client.connect('127.0.0.1', ${addr.port}, { tls: 'none' })
      .then((c) => c.noop())
      .then((r) => console.log(r.code));   // no quit(): the session stays open
  `);
  t.after(() => p.kill('SIGKILL'));
  const how = await within(30000, exited, 'the child exiting with an open session');
  assert.deepEqual(how, { code: 0, signal: null });
  assert.deepEqual(lines, ['250']);
});

test('a pending call keeps the process alive until it settles; its client, never quit, does not', async (t) => {
  const peer = await silentPeer(t);
  const { child: p, lines, exited } = await child(`
    const pw = require(${PKG});
    pw.Client.connect('127.0.0.1', ${peer.port}, { tls: 'none', timeout: 60 })
      .then((c) => c.noop())
      .then((r) => console.log('settled', r.code), (e) => console.log('failed', e.code));
    console.log('calling');
  `);
  t.after(() => p.kill('SIGKILL'));
  await until(30000, () => peer.held.length > 0, 'the child connecting');
  // The child's script is done; only the pending connect() can hold it.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(p.exitCode, null, 'the child exited with a call pending');
  peer.greet();
  const how = await within(30000, exited, 'the child exiting after its call settled');
  assert.deepEqual(how, { code: 0, signal: null });
  assert.deepEqual(lines, ['calling', 'settled 250']);
});

test('a server that was never started does not keep its process alive', async (t) => {
  const { child: p, lines, exited } = await child(`
    const pw = require(${PKG});
    const server = new pw.Server({ hostname: 'mx.example.test', onMessage: () => {} });
    server.listen('127.0.0.1', 0).then((a) => console.log(a.port > 0));
  `);
  t.after(() => p.kill('SIGKILL'));
  const how = await within(30000, exited, 'the child exiting');
  assert.deepEqual(how, { code: 0, signal: null });
  assert.deepEqual(lines, ['true']);
});

/**
 * A child with a queue started on a fresh spool; `onLine` (code) runs for each line on its stdin
 * (`line` counts them from 0), where `finish()` stops the queue, removes the spool and prints
 * `stopped <running>`. Its stdin is unref'd: stdin alone holds nothing open.
 */
function queueChild(onLine) {
  return child(`
    const fs = require('node:fs'), os = require('node:os'), path = require('node:path');
    const pw = require(${PKG});
    const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'postwire-node-life-'));
    const q = new pw.Queue(spool, { smarthost: '127.0.0.1', pollInterval: 0.05 });
    const finish = () => q.stop().then(() => {
      fs.rmSync(spool, { recursive: true, force: true });
      console.log('stopped', q.running);
    });
    let line = 0;
    process.stdin.on('data', () => { ${onLine}; line += 1; });
    process.stdin.unref();
    q.start();
    console.log('started', q.running);
  `, 'pipe');
}

test('a started queue keeps the process alive; stop() lets it exit', async (t) => {
  const { child: p, lines, exited } = await queueChild('finish()');
  t.after(() => p.kill('SIGKILL'));
  assert.deepEqual(lines, ['started true']);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(p.exitCode, null, 'the child exited while its queue was running');
  p.stdin.write('stop\n');
  const how = await within(30000, exited, 'the child exiting after stop()');
  assert.deepEqual(how, { code: 0, signal: null });
  assert.deepEqual(lines, ['started true', 'stopped false']);
});

test('start() during a pending stop(): that stop resolves, the queue runs on and holds the process until the next stop', async (t) => {
  const { child: p, lines, exited } = await queueChild(`
    if (line === 0) {
      const first = q.stop();
      q.start();
      first.then(() => console.log('first stop resolved', q.running));
    } else {
      finish();
    }`);
  t.after(() => p.kill('SIGKILL'));
  assert.deepEqual(lines, ['started true']);
  p.stdin.write('restart\n');
  await within(30000, (async () => { while (lines.length < 2) await new Promise((r) => setTimeout(r, 20)); })(), 'the first stop resolving');
  assert.deepEqual(lines, ['started true', 'first stop resolved true']);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(p.exitCode, null, 'the child exited while its restarted queue was running');
  p.stdin.write('stop\n');
  const how = await within(30000, exited, 'the child exiting after the second stop()');
  assert.deepEqual(how, { code: 0, signal: null });
  assert.deepEqual(lines, ['started true', 'first stop resolved true', 'stopped false']);
});
