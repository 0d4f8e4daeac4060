// Benchmark client on postwire's Node binding: N messages of SIZE bytes into 127.0.0.1:PORT,
// either over K concurrent Client sessions (N/K each) or through one Pool of K connections with
// all N sends queued at once (as nodemailer's pooled transport is driven in nodemailer_send.js).
// Usage: node node_send.js client|pool PORT N SIZE K   Prints sent=N cpu_us=… rss_kib=…
'use strict';
const path = require('path');
const pw = require(process.env.POSTWIRE_PACKAGE || path.join(__dirname, '..'));

function message(size) {
  let m = 'From: bench@example.org\r\nTo: sink@example.net\r\nSubject: bench\r\n\r\n';
  while (m.length + 64 <= size) m += 'x'.repeat(62) + '\r\n';
  m += 'y'.repeat(Math.max(0, size - m.length - 2)) + '\r\n';
  return Buffer.from(m);
}

async function main() {
  const [mode, ...nums] = process.argv.slice(2, 7);
  const [port, n, size, k] = nums.map(Number);
  const raw = message(size);
  const rcpt = ['sink@example.net'];
  let sent = 0;
  if (mode === 'client') {
    const per = Math.floor(n / k);
    await Promise.all(Array.from({ length: k }, async () => {
      const c = await pw.Client.connect('127.0.0.1', port, { tls: 'none', helloName: 'bench.test', recordTranscript: false });
      for (let i = 0; i < per; i++) {
        await c.send('bench@example.org', rcpt, raw);
        sent += 1;
      }
      await c.quit();
    }));
  } else if (mode === 'pool') {
    const pool = new pw.Pool({ maxConnections: k, maxPerDestination: k, maxMessagesPerConnection: 0 });
    const dest = { host: '127.0.0.1', port, tls: 'none', helloName: 'bench.test' };
    const jobs = [];
    for (let i = 0; i < n; i++) jobs.push(pool.send(dest, 'bench@example.org', rcpt, raw).then(() => { sent += 1; }));
    await Promise.all(jobs);
    await pool.close();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  const u = process.resourceUsage();
  console.log(`sent=${sent} cpu_us=${u.userCPUTime + u.systemCPUTime} rss_kib=${u.maxRSS}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
