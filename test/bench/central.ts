/**
 * Bench section `central`: refresh throughput of the full HTTP endpoint `POST /oauth/token`
 * (RFC 6749 §6, rotating) beside its peer and the physical limit, in one run, on one PostgreSQL:
 *
 * - portcullis: the real central (`central/main.ts`, as `npm start` runs it) in its own Node
 *   process, driven over keep-alive connections, one refresh chain per in-flight worker (each
 *   refreshes its own session back to back with the token it got last, as a client does);
 * - the peer: panva's oidc-provider doing the same rotating grant (./oidc-provider-peer.ts);
 * - the physical limit: one prepared compare-and-swap UPDATE per rotation (./refresh-physical-limit.ts).
 *
 * The three are measured in alternating windows at each concurrency, so a slow moment of the
 * shared machine hits all of them. Then, each in its own pass: statements and round trips per
 * refresh counted on the wire, the peer's fork check beside portcullis', session storage after
 * 1,000 sessions × 100 refreshes, and login throughput under argon2id. Every measured response
 * must be a 200 and every chain must end with exactly one live refresh token, the one its
 * worker holds, or the section fails: a bench that silently measures errors is worthless.
 */
import { Agent } from 'node:http'
import postgres, { type Sql } from 'postgres'
import { createAppDeps } from '../../central/app-deps'
import { systemClock } from '../../central/clock'
import type { Config } from '../../central/config'
import { migrateDatabase } from '../../central/db/migrate'
import { createPool } from '../../central/db/pool'
import { refreshSession } from '../../central/sessions/refresh-session'
import { sha256RefreshToken } from '../../central/sessions/refresh-token'
import { startSession } from '../../central/sessions/start-session'
import { ensureSigningKeys } from '../../central/tokens/signing-keys'
import { ARGON2ID_OPTIONS, hashPassword } from '../../central/users/passwords'
import { createUser } from '../../central/users/store'
import { processCpuMs } from './cpu-usage'
import { MeasuredCell, ownCpuMs, post, postForm, type CellResult } from './load-generator'
import { countForkedSuccessors, createPeerRefreshCell, describeFork, startCountedPeer } from './oidc-provider-peer'
import { startCentralProcess } from './service-process'
import { createPhysicalLimitCell, measureStatementsPerRequest, startPhysicalLimitParty, type StatementsPerRequest } from './refresh-physical-limit'
import { printTable } from './report'
import { withTokenBenchStage } from './token-bench-stage'

/** In-flight requests per cell; `BENCH_CONCURRENCY=32` runs one cell (e.g. with BENCH_CPU_PROF). */
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number)
/** Measured seconds per mode and cell; `BENCH_SECONDS=1` for a quick look. */
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000
/** Unmeasured load before each cell: JIT, pool connections, PostgreSQL caches. */
const WARMUP_MS = 1000
/** Measured windows per cell, alternating portcullis, peer and physical limit. */
const ROUNDS = 3
/** Goals: portcullis ÷ peer at each concurrency, and portcullis ÷ physical limit at the top one. */
const PEER_GOALS: Record<number, number> = { 1: 1.5, 8: 1.5, 32: 2.0 }
const LIMIT_AIM = 0.35
/** Storage: this many sessions, each refreshed this many times (`BENCH_STORAGE=100x10` for a quick look). */
const [STORAGE_SESSIONS, STORAGE_REFRESHES] = (process.env.BENCH_STORAGE ?? '1000x100').split('x').map(Number) as [number, number]
/** Concurrent logins: argon2id runs on libuv's thread pool (4 threads by default). */
const LOGIN_CONCURRENCY = 4
const USER_AGENT = 'portcullis-bench/1'
const BENCH_PASSWORD = 'bench-password-correct-horse'

/** One refresh chain = one session; `token` is the live refresh token its worker holds. */
interface Chain {
  sessionId: string
  token: string
}

type UserRecord = Awaited<ReturnType<typeof createUser>>

interface ConcurrencyRow {
  concurrency: number
  portcullis: CellResult
  peer: CellResult
  limit: CellResult
}

export async function runCentralBench(): Promise<void> {
  const createBenchUser = async (sql: Sql) =>
    createUser(sql, {
      username: 'bench',
      passwordHash: await hashPassword(BENCH_PASSWORD),
      audiences: ['https://api.example.test'],
      scopes: ['read', 'write'],
      roles: [],
      actor: 'bench',
      now: new Date(),
    })
  await withTokenBenchStage({ name: 'refresh', prepare: createBenchUser }, async ({ env, config, sql, databaseUrl, central, peer, postgresCpuMs }, user) => {
    const centralPid = central.pid
    const deps = createAppDeps({ sql, config, clock: systemClock })
    const newChains = (count: number) => startChains(deps, user, count)

    console.log(
      `central ${central.url}, oidc-provider ${peer.url}, DATABASE_POOL_MAX=${config.DATABASE_POOL_MAX} for each; ` +
        `${MEASURE_MS / 1000} s per mode and cell in ${ROUNDS} alternating windows after ${WARMUP_MS / 1000} s warm-up; ` +
        `load generator, services and PostgreSQL share this machine's CPUs`,
    )

    const rows: ConcurrencyRow[] = []
    for (const concurrency of CONCURRENCIES) {
      const chains = await newChains(concurrency)
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
      const portcullisCell = new MeasuredCell(
        concurrency,
        () => ({ client: ownCpuMs(), server: processCpuMs(centralPid), postgres: postgresCpuMs() }),
        (worker) => refreshOverHttp(agent, central.url, chains[worker]!),
      )
      const peerCell = await createPeerRefreshCell({ peer, concurrency, postgresCpuMs })
      const limit = await createPhysicalLimitCell({ sql, concurrency, postgresCpuMs })
      for (const cell of [portcullisCell, peerCell, limit.cell]) await cell.warmUp(WARMUP_MS)
      for (let round = 0; round < ROUNDS; round++) {
        for (const cell of [portcullisCell, peerCell, limit.cell]) await cell.measure(MEASURE_MS / ROUNDS)
      }
      agent.destroy()
      peerCell.close()
      await assertSingleLiveChains(sql, chains)
      await limit.assertChainsIntact()
      rows.push({ concurrency, portcullis: portcullisCell.result(), peer: peerCell.result(), limit: limit.cell.result() })
    }

    const statements = {
      portcullis: await measureStatementsPerRequest({ databaseUrl, start: async (url) => startCountedPortcullis(url, env, (await newChains(1))[0]!) }),
      peer: await measureStatementsPerRequest({ databaseUrl, start: (url) => startCountedPeer(url, config.DATABASE_POOL_MAX) }),
      limit: await measureStatementsPerRequest({ databaseUrl, start: startPhysicalLimitParty }),
    }
    for (const row of rows) printConcurrencyTable(row, statements)
    printCpuSplit(rows)

    const [forkSeed] = await peer.seedRefreshTokens(1)
    const fork = await countForkedSuccessors(peer, forkSeed!)
    const [ownSeed] = await newChains(1)
    const ownFork = await countPortcullisSuccessors(central.url, ownSeed!, fork.sent)
    console.log(`\n${describeFork(fork)}`)
    console.log(
      `portcullis, the same test: ${ownFork.sent} concurrent refreshes with one token → ${ownFork.succeeded} answered 200 with ` +
        `${ownFork.distinctSuccessors} distinct successor (the identical one, retry-safe), and the chain holds exactly that one live token.`,
    )

    await printStorage(databaseUrl, config)
    await printLogin(central.url, user.username, centralPid, postgresCpuMs)

    printGoals(rows)
    console.log('\nevery measured response was 200 and every chain ended with exactly one live refresh token, the one its client holds')
  })
}

async function startChains(deps: ReturnType<typeof createAppDeps>, user: UserRecord, count: number): Promise<Chain[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const started = await startSession(deps, { user, method: { kind: 'vouched' }, actor: 'bench', userAgent: USER_AGENT, ip: '127.0.0.1' })
      if (started.kind !== 'started') throw new Error('the bench user was refused a session')
      return { sessionId: started.tokens.sessionId, token: started.tokens.refreshToken }
    }),
  )
}

// --- tables -------------------------------------------------------------------------------

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`
const cpuMs = (cell: CellResult, party: string) => cell.cpuPerRequestMs[party] ?? Number.NaN

function printConcurrencyTable(row: ConcurrencyRow, statements: Record<'portcullis' | 'peer' | 'limit', StatementsPerRequest>): void {
  const line = (name: string, cell: CellResult, counted: StatementsPerRequest, server: boolean) => [
    name,
    cell.latency.perSecond,
    cell.latency.p50Ms,
    cell.latency.p99Ms,
    server ? cpuMs(cell, 'server') : '-',
    cpuMs(cell, 'postgres'),
    counted.statementsPerRequest,
    counted.roundTripsPerRequest,
    ratio(row.portcullis.latency.perSecond, cell.latency.perSecond),
  ]
  printTable(
    `refresh_token grant (rotating), concurrency ${row.concurrency}: portcullis vs oidc-provider vs the physical limit`,
    ['mode', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req service', 'CPU ms/req PostgreSQL', 'statements/req', 'round trips/req', 'portcullis ÷ this'],
    [
      line('portcullis POST /oauth/token', row.portcullis, statements.portcullis, true),
      line('oidc-provider /token', row.peer, statements.peer, true),
      line('physical limit (1 CAS UPDATE)', row.limit, statements.limit, false),
    ],
  )
}

function printCpuSplit(rows: ConcurrencyRow[]): void {
  printTable(
    'CPU ms per refresh by process (service = central or oidc-provider; client = the load generator, or the postgres.js driver for the limit)',
    ['concurrency', 'mode', 'service', 'PostgreSQL', 'service + PostgreSQL', 'client'],
    rows.flatMap((row) =>
      (
        [
          ['portcullis', row.portcullis],
          ['oidc-provider', row.peer],
          ['physical limit', row.limit],
        ] as const
      ).map(([name, cell]) => {
        const server = name === 'physical limit' ? 0 : cpuMs(cell, 'server')
        return [String(row.concurrency), name, name === 'physical limit' ? '-' : server, cpuMs(cell, 'postgres'), server + cpuMs(cell, 'postgres'), cpuMs(cell, 'client')]
      }),
    ),
  )
}

function printGoals(rows: ConcurrencyRow[]): void {
  console.log('\ngoals:')
  for (const row of rows) {
    const goal = PEER_GOALS[row.concurrency]
    const vsPeer = row.portcullis.latency.perSecond / row.peer.latency.perSecond
    const vsLimit = row.portcullis.latency.perSecond / row.limit.latency.perSecond
    const peerText = goal === undefined ? '' : ` (goal ≥ ${goal.toFixed(1)}× → ${vsPeer >= goal ? 'MET' : 'NOT MET'})`
    const limitText = row.concurrency === CONCURRENCIES.at(-1) ? ` (aim ≥ ${LIMIT_AIM}× → ${vsLimit >= LIMIT_AIM ? 'MET' : 'NOT MET'})` : ''
    console.log(`  concurrency ${row.concurrency}: portcullis/peer ${vsPeer.toFixed(2)}×${peerText}; portcullis/limit ${vsLimit.toFixed(2)}×${limitText}`)
  }
}

// --- HTTP ---------------------------------------------------------------------------------

/** One `POST /oauth/token` on a keep-alive connection; anything but a 200 with a new token fails the cell. */
async function refreshOverHttp(agent: Agent, baseUrl: string, chain: Chain): Promise<void> {
  const { status, text } = await postForm(agent, `${baseUrl}/oauth/token`, `grant_type=refresh_token&refresh_token=${encodeURIComponent(chain.token)}`, {
    'User-Agent': USER_AGENT,
  })
  if (status !== 200) {
    // The body is an RFC 6749 §5.2 error ({error, error_description}): no token in it.
    throw new Error(`POST /oauth/token answered ${status} for session ${chain.sessionId}: ${text.slice(0, 300)}`)
  }
  const refreshToken = (JSON.parse(text) as { refresh_token?: unknown }).refresh_token
  if (typeof refreshToken !== 'string') throw new Error(`POST /oauth/token answered 200 without a refresh_token for session ${chain.sessionId}`)
  chain.token = refreshToken
}

/** The peer's fork check, run against portcullis: `concurrency` refreshes with one token at once. */
async function countPortcullisSuccessors(baseUrl: string, chain: Chain, concurrency: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  try {
    const presented = chain.token
    const answers = await Promise.all(Array.from({ length: concurrency }, () => postForm(agent, `${baseUrl}/oauth/token`, `grant_type=refresh_token&refresh_token=${encodeURIComponent(presented)}`)))
    const successors = new Set(answers.filter((a) => a.status === 200).map((a) => (JSON.parse(a.text) as { refresh_token: string }).refresh_token))
    if (successors.size !== 1) throw new Error(`portcullis forked: ${successors.size} distinct successors`)
    return { sent: concurrency, succeeded: answers.filter((a) => a.status === 200).length, distinctSuccessors: successors.size }
  } finally {
    agent.destroy()
  }
}

// --- statements per refresh ------------------------------------------------------------------

/**
 * portcullis as a counted party: a real central process (as in the throughput cells) whose
 * database traffic goes through the statement counter, refreshing one chain over HTTP in turn, so
 * the count is the endpoint's: client check, refresh and anything else a refresh request runs.
 */
async function startCountedPortcullis(proxiedDatabaseUrl: string, env: Record<string, string>, chain: Chain) {
  const counted = await startCentralProcess({ ...env, DATABASE_URL: proxiedDatabaseUrl })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  return {
    request: () => refreshOverHttp(agent, counted.url, chain),
    stop: async () => {
      agent.destroy()
      await counted.stop()
    },
  }
}

// --- storage ------------------------------------------------------------------------------

/**
 * Session state after STORAGE_SESSIONS sessions × STORAGE_REFRESHES refreshes each, on a database
 * of its own (so nothing else shares the tables): the same rows and bytes after the first
 * refresh and after the last. Refreshes run through `refreshSession`, the endpoint's own path.
 */
async function printStorage(serverUrl: string, config: Config): Promise<void> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  const name = 'bench_storage'
  await admin`drop database if exists ${admin(name)}`
  await admin`create database ${admin(name)}`
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const sql = createPool(url.href, { max: config.DATABASE_POOL_MAX })
  try {
    await migrateDatabase(sql)
    await ensureSigningKeys(sql, config, new Date())
    const user = await createUser(sql, { username: 'storage', passwordHash: null, audiences: ['https://api.example.test'], scopes: ['read'], roles: [], actor: 'bench', now: new Date() })
    const deps = createAppDeps({ sql, config, clock: systemClock })
    const chains = await startChains(deps, user, STORAGE_SESSIONS)
    const state = async () => {
      const [row] = await sql<{ rows: number; bytes: number; audit_rows: number; audit_bytes: number }[]>`
        select (select count(*) from sessions)::int + (select count(*) from legacy_refresh_tokens)::int as rows,
               (pg_total_relation_size('sessions') + pg_total_relation_size('legacy_refresh_tokens'))::bigint as bytes,
               (select count(*) from audit_events)::int as audit_rows,
               pg_total_relation_size('audit_events')::bigint as audit_bytes`
      return row!
    }
    const refreshAll = async (times: number) => {
      // One worker per 32 chains: each chain refreshes in turn, as clients do, 32 in flight.
      const workers = Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; i < times; i++) {
          for (let c = w; c < chains.length; c += 32) {
            const chain = chains[c]!
            chain.token = (await refreshSession(deps, { refreshToken: chain.token, ip: '127.0.0.1', userAgent: USER_AGENT })).refreshToken
          }
        }
      })
      await Promise.all(workers)
    }
    const started = await state()
    await refreshAll(1)
    const afterOne = await state()
    await refreshAll(STORAGE_REFRESHES - 1)
    const afterAll = await state()
    await assertSingleLiveChains(sql, chains)
    const kib = (bytes: number) => `${(Number(bytes) / 1024).toFixed(0)} KiB`
    printTable(
      `storage: ${STORAGE_SESSIONS} sessions, each refreshed ${STORAGE_REFRESHES} times (session state = sessions + legacy_refresh_tokens, heap and indexes)`,
      ['after', 'refreshes', 'session-state rows', 'session-state size', 'audit rows (AUDIT_REFRESH_EVENTS=true)', 'audit size'],
      [
        ['sign-in', 0, started.rows, kib(started.bytes), started.audit_rows, kib(started.audit_bytes)],
        ['1 refresh each', STORAGE_SESSIONS, afterOne.rows, kib(afterOne.bytes), afterOne.audit_rows, kib(afterOne.audit_bytes)],
        [`${STORAGE_REFRESHES} refreshes each`, STORAGE_SESSIONS * STORAGE_REFRESHES, afterAll.rows, kib(afterAll.bytes), afterAll.audit_rows, kib(afterAll.audit_bytes)],
      ],
    )
    console.log(
      `session state grows with sessions, not refreshes: ${afterAll.rows} rows (${kib(afterAll.bytes)}) after ${STORAGE_SESSIONS * STORAGE_REFRESHES} refreshes ` +
        `vs ${afterOne.rows} rows (${kib(afterOne.bytes)}) after ${STORAGE_SESSIONS}; the audit trail's session.refreshed rows are bounded by ` +
        `AUDIT_RETENTION_SECONDS (or not written with AUDIT_REFRESH_EVENTS=false)`,
    )
  } finally {
    await sql.end({ timeout: 5 })
    await admin`drop database if exists ${admin(name)}`
    await admin.end()
  }
}

// --- login --------------------------------------------------------------------------------

/** `POST /auth/login` with the right password, LOGIN_CONCURRENCY at a time: bounded by argon2id by design. */
async function printLogin(baseUrl: string, username: string, centralPid: number, postgresCpuMs: () => number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: LOGIN_CONCURRENCY })
  const body = JSON.stringify({ username, password: BENCH_PASSWORD })
  const login = async () => {
    const { status, text } = await post(agent, `${baseUrl}/auth/login`, 'application/json', body, { 'User-Agent': USER_AGENT })
    if (status !== 200) throw new Error(`POST /auth/login answered ${status}: ${text.slice(0, 300)}`)
  }
  const cell = new MeasuredCell(LOGIN_CONCURRENCY, () => ({ client: ownCpuMs(), server: processCpuMs(centralPid), postgres: postgresCpuMs() }), login)
  try {
    await cell.warmUp(WARMUP_MS)
    await cell.measure(Math.max(MEASURE_MS, 3000))
  } finally {
    agent.destroy()
  }
  const result = cell.result()
  const { memoryCost, timeCost, parallelism } = ARGON2ID_OPTIONS
  printTable(
    `POST /auth/login (password, argon2id m=${memoryCost} KiB, t=${timeCost}, p=${parallelism}: OWASP's minimum), ${LOGIN_CONCURRENCY} in flight`,
    ['logins/s', 'p50 ms', 'p99 ms', 'CPU ms/login central', 'CPU ms/login PostgreSQL'],
    [[result.latency.perSecond, result.latency.p50Ms, result.latency.p99Ms, cpuMs(result, 'server'), cpuMs(result, 'postgres')]],
  )
  console.log(`sizing: one core verifies about ${(1000 / cpuMs(result, 'server')).toFixed(0)} passwords/s at these parameters; refreshes never run argon2`)
}

// --- sanity -------------------------------------------------------------------------------

/**
 * Each chain must still be one live session whose current token is the one its worker holds:
 * no fork, no lost rotation, no revocation. (Inline SQL: a read-only check of the bench's own
 * throwaway database.)
 */
async function assertSingleLiveChains(sql: Sql, chains: Chain[]): Promise<void> {
  const rows = await sql<{ id: string; revoked: boolean; token_hash: Buffer | null }[]>`
    select id, revoked_at is not null as revoked, token_hash from sessions where id = any(${chains.map((c) => c.sessionId)}::uuid[])`
  const bySession = new Map(rows.map((r) => [r.id, r]))
  for (const chain of chains) {
    const row = bySession.get(chain.sessionId)
    if (!row) throw new Error(`session ${chain.sessionId} vanished`)
    if (row.revoked) throw new Error(`session ${chain.sessionId} was revoked during the bench`)
    if (!row.token_hash?.equals(sha256RefreshToken(chain.token))) {
      throw new Error(`session ${chain.sessionId}: the live refresh token is not the one the client holds`)
    }
  }
}
