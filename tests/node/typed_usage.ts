// A typed use of the whole API, checked by `tsc --noEmit --strict` (scripts/test-node.sh): the
// generated index.d.ts must describe what the README and the tests do. Not run.
import {
  Client, Pool, Queue, Reply, Server, compose, sendMail, setLogger, errorCodes,
  resolveMx, checkRelay, analyzeReceived, parseReceived, relayProbes, relayVerdict, relaySummary,
  type RelayProbe,
  type Route, type MxHost, type QueueEntry, type RunStats, type RelayReport, type RelayTest,
  type TraceAnalysis, type Hop, type Finding, type ReceivedLine,
  type Address, type Envelope, type HookResult, type Logger, type PostwireError, type RecipientResult,
  type SendResult, type ServerStats, type Session, type PoolStats, type ServerOptions,
} from 'postwire'

// Relay mode: the queue behind the server and where it relays.
export const relayMode: ServerOptions = {
  delivery: 'queue:/var/spool/postwire',
  relayNetworks: ['10.0.0.0/8'],
  queueSmarthost: 'smarthost.example.net:587',
  queuePort: 25,
  nameservers: ['127.0.0.1:5353'],
  allowLoopback: false,
  localMaildir: '/var/mail/local',
  queueRetry: [300, 600, 1200],
  queueMaxAge: 5 * 86400,
}

async function main(): Promise<void> {
  const inbox: Array<[string[], Buffer]> = []
  const logger: Logger = {
    debug: () => {}, info: (f, m) => console.log(f.target, m), warn: () => {}, error: () => {},
  }
  const server = new Server({
    hostname: 'mx.example.test',
    localDomains: ['example.test'],
    maxMessageSize: null,
    timeouts: { command: 60, tlsHandshake: 10 },
    auth: async (user: string, password: string): Promise<boolean> => user === 'a' && password === 'b',
    onConnect: (session: Session): HookResult => (session.peer.host === '192.0.2.1' ? [554, 'go away'] : undefined),
    onMailFrom: async (_s: Session, address: string, params: Record<string, string | null>) =>
      address === '' && params.SIZE === null ? { code: 550, text: 'no' } : null,
    onRcptTo: (_s, address) => (address.startsWith('x') ? new Reply(550, '5.1.1 unknown') : undefined),
    onMessage: async (_s: Session, envelope: Envelope, data: Buffer) => {
      inbox.push([envelope.rcptTo, data])
    },
    logger,
    maxConnectionsPerIp: 5,
    connectionLimitExceptions: ['192.0.2.0/24'],
    minDataRate: 500,
    maxJunkCommands: 100,
    advertiseDsn: false,
    maildirLayout: 'shared',
    hookTimeout: 10,
  })
  const addr: Address = await server.listen('127.0.0.1', 0)
  server.start()

  const client: Client = await Client.connect(addr.host, addr.port, { tls: 'none', timeout: 5, timeouts: { connect: 2 } })
  const caps: Record<string, string> = client.capabilities
  const banner: Reply = client.banner
  const msg: Buffer = compose('me@example.org', ['you@example.test'], 'Hi', 'Hello!\n', { bcc: 'b@example.test' })
  try {
    const r: SendResult = await client.send('me@example.org', ['you@example.test'], msg, { dsn: { ret: 'hdrs', notify: 'SUCCESS,FAILURE', orcpt: true } })
    const code: number = r.reply.code
    const queued: string | null = r.queueId
    const seconds: number | null = r.timings.total
    console.log(code, queued, seconds, r.rejected.map((x) => x.reply.enhanced), caps.SIZE, banner.text)
  } catch (err) {
    const e = err as PostwireError
    const reply: Reply | null = e.reply
    console.log(e.code, e.kind, reply?.code, e.rejected.length)
  }
  await client.login('a', 'b')
  const t: string[] = client.transcript
  const user: string | null = client.authenticatedUser
  await client.quit()

  const pool = new Pool({ maxConnections: 10, idleTimeout: 30 })
  await pool.send({ host: addr.host, port: addr.port, tls: 'none', credentials: { user: 'a', password: 'b' } },
    'me@example.org', 'you@example.test', 'Subject: x\r\n\r\nbody\r\n')
  const ps: PoolStats = pool.stats
  await pool.close()

  const results: RecipientResult[] = await sendMail('me@example.org', ['you@example.test'], msg, { smarthost: addr.host, port: addr.port })
  for (const r of results) {
    if (!r.ok && r.error) console.log(r.rcpt, r.error.code, r.reply?.code)
  }
  setLogger(true, 'debug')
  setLogger(null)
  // MX routing, the queue, the relay check and the trace analysis.
  const route: Route = await resolveMx('example.test', { nameservers: ['127.0.0.1:5353'], seed: 1 })
  const best: MxHost | undefined = route.hosts[0]
  console.log(route.cnameChain, route.nullMx, route.implicit, best?.addresses, route.explanation[0]?.kind)
  const queue = new Queue('/tmp/spool', { smarthost: addr.host, port: addr.port, retry: [60, 300], maxAge: 86400 })
  const id: string = await queue.submit({ mailFrom: '', rcptTo: ['a@example.test', { address: 'b@example.test', notify: 'NEVER' }] }, msg)
  const run: RunStats = await queue.run()
  const flushed: RunStats = await queue.flush()
  const entries: QueueEntry[] = await queue.list()
  queue.start()
  const running: boolean = queue.running
  await queue.stop()
  console.log(id, run.delivered, flushed.failed, entries[0]?.recipients[0]?.lastReply?.code, entries[0]?.nextTryMs, running)
  const report: RelayReport = await checkRelay(addr.host, addr.port, { tests: 'all', timeout: 10, tls: 'none' })
  const probe: RelayTest | undefined = report.results[0]
  const matrix: RelayProbe[] = relayProbes({ ip: '192.0.2.1', domain: 'relay-probe.invalid', fromUser: 'a', toUser: 'b' })
  const v: 'relayed' | 'refused' | 'deferred' | 'auth_required' | 'error' = relayVerdict(new Reply(550, '5.7.1 no'))
  const sum: { open: boolean; inconclusive: boolean } = relaySummary([v])
  console.log(matrix.length, matrix[0]?.tricks, sum.open)
  console.log(report.open, report.inconclusive, report.evidence, probe?.verdict, probe?.reply?.enhanced, probe?.transcript)
  const trace: TraceAnalysis = await analyzeReceived(msg, { trustedHosts: ['mx.example.test'], resolve: false })
  const hop: Hop | undefined = trace.hops[0]
  const finding: Finding | undefined = trace.findings[0]
  const line: ReceivedLine = parseReceived('from a (b [192.0.2.1]) by c; Tue, 1 Dec 2026 10:00:00 +0000')
  console.log(trace.suspicious, hop?.fromIp, hop?.delay, finding?.severity, finding?.hop, line.for, line.defects)

  const stats: ServerStats = server.stats
  const codes: string[] = errorCodes()
  console.log(t.length, user, ps.open, stats.messagesAccepted, inbox.length, codes[0], server.running)
  await server.stop()
}

main().catch((e: unknown) => { console.error(e); process.exit(1) })
