// A typed use of the whole API, checked by `tsc --noEmit --strict` (scripts/test-node.sh): the
// generated index.d.ts must describe what the README and the tests do. Not run.
import {
  Client, Pool, Reply, Server, compose, sendMail, setLogger, errorCodes,
  type Address, type Envelope, type HookResult, type Logger, type PostwireError, type RecipientResult,
  type SendResult, type ServerStats, type Session, type PoolStats,
} from 'postwire'

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
  })
  const addr: Address = await server.listen('127.0.0.1', 0)
  server.start()

  const client: Client = await Client.connect(addr.host, addr.port, { tls: 'none', timeout: 5, timeouts: { connect: 2 } })
  const caps: Record<string, string> = client.capabilities
  const banner: Reply = client.banner
  const msg: Buffer = compose('me@example.org', ['you@example.test'], 'Hi', 'Hello!\n', { bcc: 'b@example.test' })
  try {
    const r: SendResult = await client.send('me@example.org', ['you@example.test'], msg)
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
  const stats: ServerStats = server.stats
  const codes: string[] = errorCodes()
  console.log(t.length, user, ps.open, stats.messagesAccepted, inbox.length, codes[0], server.running)
  await server.stop()
}

main().catch((e: unknown) => { console.error(e); process.exit(1) })
