// Node binding benchmark (issue 9, "Performance"): one run, msg/s, ratios and peak RSS; markdown
// on stdout. Run by bench/node_bench.sh (which builds the release addon first).
//
// 1. Server: smtp-source (1 KiB messages, -s 10 / -s 100, one message per session or many with
//    -d) against postwire.Server with a JS onMessage that counts (node_sink.js), Node's
//    smtp-server with its greeting delay off and a trivial onData (smtp_server_sink.js), and
//    Postfix smtp-sink (the ceiling). Target: postwire >= 2x smtp-server on every row, less RSS.
// 2. Client: N x 1 KiB into smtp-sink from postwire Client (10 concurrent sessions), postwire
//    Pool of 10, and nodemailer's pooled transport (maxConnections 10). Target: >= 3x nodemailer.
//
// Usage: node node_bench.js SMTP_SOURCE SMTP_SINK. Knobs: BENCH_MSGS (default 20000),
// BENCH_TIMEOUT (seconds per run, default 180), BENCH_REPEAT (rounds per server row, default 3).
//
// Why rounds: on the shared 2-core VM this was written on, one server's rate on one row moved by
// 10-30 % between runs minutes apart (about 20 % of the machine's time was stolen by its host).
// Each server row runs every server once per round, the order rotated each round; a rate is the
// median of the rounds, a ratio the ratio of medians with the lowest and highest ratio within
// one round beside it, and a peak RSS the highest of the rounds.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const HERE = __dirname;
const N = Number(process.env.BENCH_MSGS || 20000);
const LIMIT = Number(process.env.BENCH_TIMEOUT || 180) * 1000;
const ROUNDS = Math.max(1, Number(process.env.BENCH_REPEAT || 3));
const [SOURCE, SINK] = process.argv.slice(2, 4);

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function waitPort(port, proc) {
  for (let i = 0; i < 400; i++) {
    if (proc.exitCode !== null) throw new Error(`server exited early: ${proc.spawnargs.join(' ')}`);
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`server did not listen: ${proc.spawnargs.join(' ')}`);
}

async function start(name, port) {
  const cmd = {
    postwire: [process.execPath, [path.join(HERE, 'node_sink.js'), String(port)]],
    'smtp-server': [process.execPath, [path.join(HERE, 'smtp_server_sink.js'), String(port)]],
    'smtp-sink': [SINK, [...(process.getuid() === 0 ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '1024']],
  }[name];
  const p = spawn(cmd[0], cmd[1], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  p.output = () => out;
  await waitPort(port, p);
  return p;
}

/** Peak RSS (VmHWM) of a running process, in KiB. */
function peakRss(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function stop(p) {
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 30000);
    p.on('exit', () => { clearTimeout(t); resolve(p.output()); });
    p.kill('SIGTERM');
  });
}

function runSource(port, sessions, reuse) {
  const args = ['-c', '-s', String(sessions), '-m', String(N), '-l', '1024', ...(reuse ? ['-d'] : []),
    '-M', 'client.bench.test', '-f', 'sender@client.bench.test', '-t', 'rcpt@bench.test', `127.0.0.1:${port}`];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(SOURCE, args, { encoding: 'utf8', timeout: LIMIT });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`smtp-source failed: ${(r.stderr || String(r.error)).slice(0, 300)}`);
  return N / dt;
}

const SERVERS = ['postwire', 'smtp-server', 'smtp-sink'];

/** One run of smtp-source against a fresh `name` server: { rate, rss }. */
async function oneServerRun(name, sessions, reuse) {
  const port = await freePort();
  const p = await start(name, port);
  let rate;
  let rss;
  try {
    rate = runSource(port, sessions, reuse);
    rss = peakRss(p.pid);
  } finally {
    const out = await stop(p);
    if (name === 'postwire' && !out.includes(`kept=${N}`)) throw new Error(`postwire sink did not count ${N}: ${out.slice(-300)}`);
  }
  return { rate, rss };
}

async function serverRows() {
  const rows = [];
  for (const reuse of [false, true]) {
    for (const sessions of [10, 100]) {
      const r = Object.fromEntries(SERVERS.map((name) => [name, { rates: [], rss: 0 }]));
      for (let round = 0; round < ROUNDS; round++) {
        const shift = round % SERVERS.length;
        for (const name of [...SERVERS.slice(shift), ...SERVERS.slice(0, shift)]) {
          const { rate, rss } = await oneServerRun(name, sessions, reuse);
          r[name].rates.push(rate);
          r[name].rss = Math.max(r[name].rss, rss);
        }
      }
      for (const name of SERVERS) r[name].rate = median(r[name].rates);
      rows.push({ sessions, reuse, r });
    }
  }
  return rows;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Ratio of medians, with the range of the ratios within one round. */
function ratio(a, b) {
  const perRound = a.rates.map((x, i) => x / b.rates[i]);
  const range = perRound.length > 1 ? ` (${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)})` : '';
  return `${(a.rate / b.rate).toFixed(2)}x${range}`;
}

function runClient(args) {
  const t0 = process.hrtime.bigint();
  const res = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: LIMIT });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (res.status !== 0 || !res.stdout.includes(`sent=${N}`)) throw new Error(`${args.join(' ')} failed: ${res.stderr.slice(0, 300)}${res.stdout.slice(0, 300)}`);
  const cpu = /cpu_us=(\d+)/.exec(res.stdout);
  const rss = /rss_kib=(\d+)/.exec(res.stdout);
  return { rate: N / dt, cpuPerMsg: cpu ? Number(cpu[1]) / N : NaN, rss: rss ? Number(rss[1]) : NaN };
}

async function clientRows() {
  const port = await freePort();
  const sink = await start('smtp-sink', port);
  const rows = {};
  try {
    rows['postwire Client, 10 sessions'] = runClient([path.join(HERE, 'node_send.js'), 'client', String(port), String(N), '1024', '10']);
    rows['postwire Pool of 10'] = runClient([path.join(HERE, 'node_send.js'), 'pool', String(port), String(N), '1024', '10']);
    rows['nodemailer pool, maxConnections 10'] = runClient([path.join(HERE, 'nodemailer_send.js'), String(port), String(N), '1024', '10']);
  } finally {
    await stop(sink);
  }
  return rows;
}

async function main() {
  console.error(`node_bench: ${N} messages of 1 KiB per run, ${os.cpus().length} CPUs, Node ${process.version}`);
  const rows = await serverRows();
  const clients = await clientRows();
  const mib = (k) => (Number.isFinite(k) ? (k / 1024).toFixed(0) : '–');
  const out = [];
  out.push(`### Node server: JS \`onMessage\` counting (${N} x 1 KiB, smtp-source; median of ${ROUNDS} rounds)\n`);
  out.push('| sessions | mode | postwire.Server msg/s | smtp-server msg/s | smtp-sink msg/s | postwire / smtp-server | postwire / smtp-sink | peak RSS MiB postwire / smtp-server / sink |');
  out.push('|---|---|---:|---:|---:|---:|---:|---|');
  for (const { sessions, reuse, r } of rows) {
    const [p, s, k] = [r.postwire, r['smtp-server'], r['smtp-sink']];
    out.push(`| ${sessions} | ${reuse ? '-d (many per session)' : 'one per session'} | ${p.rate.toFixed(0)} | ${s.rate.toFixed(0)} | ${k.rate.toFixed(0)} `
      + `| ${ratio(p, s)} | ${ratio(p, k)} | ${mib(p.rss)} / ${mib(s.rss)} / ${mib(k.rss)} |`);
  }
  const base = clients['nodemailer pool, maxConnections 10'].rate;
  out.push(`\n### Node clients into smtp-sink (${N} x 1 KiB)\n`);
  out.push('| client | msg/s | client CPU µs/msg | peak RSS MiB | vs nodemailer |');
  out.push('|---|---:|---:|---:|---:|');
  for (const [name, c] of Object.entries(clients)) {
    out.push(`| ${name} | ${c.rate.toFixed(0)} | ${Number.isFinite(c.cpuPerMsg) ? c.cpuPerMsg.toFixed(1) : '–'} | ${mib(c.rss)} | ${(c.rate / base).toFixed(2)}x |`);
  }
  console.log(out.join('\n'));
}

main().catch((e) => { console.error(e); process.exit(1); });
