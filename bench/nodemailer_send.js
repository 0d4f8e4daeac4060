// Benchmark helper: send N messages of SIZE bytes with nodemailer's pooled SMTP transport
// (maxConnections K), all queued at once as a pooled application would.
// Usage: node nodemailer_send.js PORT N SIZE K   (host 127.0.0.1). Exits non-zero on failure.
'use strict';
const path = require('path');
const nodemailer = require(path.join(__dirname, '..', 'tests', 'peers', 'node', 'node_modules', 'nodemailer'));

function message(size) {
  let m = 'From: bench@example.org\r\nTo: sink@example.net\r\nSubject: bench\r\n\r\n';
  while (m.length + 64 <= size) m += 'x'.repeat(62) + '\r\n';
  m += 'y'.repeat(Math.max(0, size - m.length - 2)) + '\r\n';
  return Buffer.from(m);
}

async function main() {
  const [port, n, size, k] = process.argv.slice(2, 6).map(Number);
  const raw = message(size);
  const t = nodemailer.createTransport({
    host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true,
    maxConnections: k, maxMessages: Infinity, name: 'bench.test',
  });
  const envelope = { from: 'bench@example.org', to: ['sink@example.net'] };
  const jobs = [];
  for (let i = 0; i < n; i++) jobs.push(t.sendMail({ envelope, raw }));
  const res = await Promise.all(jobs);
  t.close();
  console.log(`sent=${res.length}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
