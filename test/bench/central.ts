/**
 * Bench section `central`: refresh throughput of the full HTTP endpoint `POST /oauth/token`
 * (RFC 6749 §6, rotating) beside the raw PostgreSQL limit of the same rotation, in one run.
 *
 * - HTTP: the real central (`central/main.ts`, as `npm start` runs it) in its own Node process
 *   on 127.0.0.1, driven over keep-alive connections. One refresh chain per in-flight worker:
 *   each worker refreshes its own session back to back with the token it got last, as a client does.
 * - raw SQL: the same store functions the service runs in its refresh transaction (lock the
 *   session, read the token, rotate, touch, audit), driven directly with postgres.js from this
 *   process with the service's pool size — no HTTP, no JSON, no JWT signing.
 *
 * Both use one throwaway embedded PostgreSQL. Every measured response must be a 200 and every
 * chain must end with exactly one live refresh token — the one its worker holds — or the
 * section fails: a bench that silently measures errors is worthless.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { Agent, request } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Sql } from 'postgres'
import { systemClock } from '../../central/clock'
import { loadConfig } from '../../central/config'
import { startEmbeddedPostgres } from '../../central/db/embedded-postgres'
import { migrateDatabase } from '../../central/db/migrate'
import { createPool } from '../../central/db/pool'
import { createAppDeps } from '../../central/app-deps'
import { startSession } from '../../central/sessions/start-session'
import { generateRefreshToken, hashRefreshToken, sealSuccessor } from '../../central/sessions/refresh-token'
import { applyRotation, findRefreshTokenByHash, lockSessionByTokenHash } from '../../central/sessions/store'
import { ensureSigningKeys } from '../../central/tokens/signing-keys'
import { createUser } from '../../central/users/store'
import { descendantsCpuMs, machineCpuMs, processCpuMs } from './cpu-usage'
import { printTable, runForDuration, summarize, type LatencySummary } from './report'

/** In-flight requests per cell; `BENCH_CONCURRENCY=32` runs one cell (e.g. with BENCH_CPU_PROF). */
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number)
/** Measured seconds per cell; `BENCH_SECONDS=1` for a quick look. */
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000
/** Unmeasured load before each cell: JIT, pool connections, PostgreSQL caches. */
const WARMUP_MS = 1000
/**
 * Each cell's measured time is split into this many windows, alternating raw SQL and HTTP, so
 * both see the same background load on a shared machine (a slow minute hits both, not one).
 */
const ROUNDS = 3
/** The goal of issue 3: the endpoint reaches at least this share of the raw rate at the top concurrency. */
const GOAL_RATIO = 0.5
const USER_AGENT = 'portcullis-bench/1'
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface CpuSnapshot {
  clientMs: number
  centralMs: number
  postgresMs: number
  machineBusyMs: number
  machineTotalMs: number
}

interface CellResult {
  latency: LatencySummary
  /** CPU ms per request (or rotation) of each party, and how busy the whole machine was. */
  cpuPerRequestMs: { client: number; central: number; postgres: number }
  machineBusyPercent: number
  otherBusyPercent: number
}

/** One refresh chain = one session; `token` is the live refresh token its worker holds. */
interface Chain {
  sessionId: string
  token: string
}

export async function runCentralBench(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-bench-'))
  const database = await startEmbeddedPostgres({ dataDir, persistent: false })
  const env = {
    DATABASE_URL: database.url,
    HOST: '127.0.0.1',
    PORT: '0',
    NODE_ENV: 'development',
    // One pool size for the service and the raw driver, so both have the same connections.
    DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX ?? '10',
  }
  const config = loadConfig(env)
  const sql = createPool(database.url, { max: config.DATABASE_POOL_MAX })
  let central: CentralProcess | undefined
  try {
    await migrateDatabase(sql)
    await ensureSigningKeys(sql, config, new Date())
    const user = await createUser(sql, {
      username: 'bench',
      passwordHash: null,
      audiences: ['https://api.example.test'],
      scopes: ['read', 'write'],
      roles: [],
      actor: 'bench',
      now: new Date(),
    })
    central = await startCentralProcess(env)
    const cpu = (): CpuSnapshot => {
      const usage = process.cpuUsage()
      const machine = machineCpuMs()
      return {
        clientMs: (usage.user + usage.system) / 1000,
        centralMs: processCpuMs(central!.pid),
        postgresMs: descendantsCpuMs(process.pid, [central!.pid]),
        machineBusyMs: machine.busyMs,
        machineTotalMs: machine.totalMs,
      }
    }

    console.log(
      `central ${central.url}, DATABASE_POOL_MAX=${config.DATABASE_POOL_MAX} (service and raw), ` +
        `${MEASURE_MS / 1000} s per cell after ${WARMUP_MS / 1000} s warm-up; ` +
        `load generator, service and PostgreSQL share this machine's CPUs`,
    )
    const deps = createAppDeps({ sql, config, clock: systemClock })
    const newChains = async (count: number): Promise<Chain[]> =>
      Promise.all(
        Array.from({ length: count }, async () => {
          const started = await startSession(deps, { user, method: { kind: 'vouched' }, actor: 'bench', userAgent: USER_AGENT, ip: '127.0.0.1' })
          if (started.kind !== 'started') throw new Error('the bench user was refused a session')
          const { tokens } = started
          return { sessionId: tokens.sessionId, token: tokens.refreshToken }
        }),
      )

    const rows: (string | number)[][] = []
    const cpuRows: (string | number)[][] = []
    let topRatio = Number.NaN
    let topCpuRatio = Number.NaN
    for (const concurrency of CONCURRENCIES) {
      const rawChains = await newChains(concurrency)
      const httpChains = await newChains(concurrency)
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
      const rawCell = new Cell(concurrency, cpu, (worker) => rotateDirectly(sql, rawChains[worker]!))
      const httpCell = new Cell(concurrency, cpu, (worker) => refreshOverHttp(agent, central!.url, httpChains[worker]!))
      await rawCell.warmUp()
      await httpCell.warmUp()
      for (let round = 0; round < ROUNDS; round++) {
        await rawCell.measure(MEASURE_MS / ROUNDS)
        await httpCell.measure(MEASURE_MS / ROUNDS)
      }
      agent.destroy()
      await assertSingleLiveChains(sql, rawChains)
      await assertSingleLiveChains(sql, httpChains)
      const raw = rawCell.result()
      const http = httpCell.result()

      const ratio = http.latency.perSecond / raw.latency.perSecond
      if (concurrency === CONCURRENCIES.at(-1)) topRatio = ratio
      rows.push([String(concurrency), http.latency.perSecond, http.latency.p50Ms, http.latency.p99Ms, raw.latency.perSecond, raw.latency.p50Ms, `${ratio.toFixed(2)}x`])
      const cpuRatio = totalCpuMs(raw) / totalCpuMs(http)
      if (concurrency === CONCURRENCIES.at(-1)) topCpuRatio = cpuRatio
      for (const [name, cell] of [['HTTP', http], ['raw SQL', raw]] as const) {
        cpuRows.push([
          String(concurrency),
          name,
          cell.cpuPerRequestMs.client,
          cell.cpuPerRequestMs.central,
          cell.cpuPerRequestMs.postgres,
          `${cell.machineBusyPercent.toFixed(0)}%`,
          `${cell.otherBusyPercent.toFixed(0)}%`,
          name === 'HTTP' ? `${cpuRatio.toFixed(2)}x` : '',
        ])
      }
    }

    printTable(
      'POST /oauth/token (refresh_token grant, rotating) vs the same rotation as raw SQL',
      ['concurrency', 'HTTP req/s', 'p50 ms', 'p99 ms', 'raw SQL rotations/s', 'raw p50 ms', 'ratio HTTP/raw'],
      rows,
    )
    printTable(
      'CPU ms per request by process (client = load generator; raw SQL rows: client = postgres.js driver), machine busy;\n' +
        'ratio by CPU cost = raw CPU per rotation / HTTP CPU per request (the throughput ratio once both saturate the CPUs, whatever else runs)',
      ['concurrency', 'mode', 'client', 'central', 'postgres', 'machine busy', 'other processes', 'ratio by CPU cost'],
      cpuRows,
    )
    const top = CONCURRENCIES.at(-1)
    const met = topRatio >= GOAL_RATIO
    console.log(
      `\ngoal: HTTP ≥ ${GOAL_RATIO}× raw SQL at concurrency ${top} → ${topRatio.toFixed(2)}× ${met ? 'MET' : 'NOT MET'}` +
        ` (by CPU cost ${topCpuRatio.toFixed(2)}×; for scale: Keycloak's sizing guide plans 120 refreshes/s per vCPU)`,
    )
    console.log('every measured response was 200 and every chain ended with exactly one live refresh token')
  } finally {
    await central?.stop()
    await sql.end({ timeout: 5 })
    await database.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/**
 * One mode at one concurrency: a warm-up, then measured windows (interleaved with the other
 * mode's by the caller) whose latencies and CPU deltas add up.
 */
class Cell {
  private readonly latenciesMs: number[] = []
  private elapsedMs = 0
  private readonly used = { clientMs: 0, centralMs: 0, postgresMs: 0, machineBusyMs: 0, machineTotalMs: 0 }

  constructor(
    private readonly concurrency: number,
    private readonly cpu: () => CpuSnapshot,
    private readonly task: (worker: number) => Promise<void>,
  ) {}

  async warmUp(): Promise<void> {
    await runForDuration(this.concurrency, WARMUP_MS, this.task)
  }

  async measure(durationMs: number): Promise<void> {
    const before = this.cpu()
    const { latenciesMs, elapsedMs } = await runForDuration(this.concurrency, durationMs, this.task)
    const after = this.cpu()
    this.latenciesMs.push(...latenciesMs)
    this.elapsedMs += elapsedMs
    for (const key of Object.keys(this.used) as (keyof CpuSnapshot)[]) this.used[key] += after[key] - before[key]
  }

  result(): CellResult {
    const count = this.latenciesMs.length
    const { clientMs, centralMs, postgresMs, machineBusyMs, machineTotalMs } = this.used
    return {
      latency: summarize(this.latenciesMs, this.elapsedMs),
      cpuPerRequestMs: { client: clientMs / count, central: centralMs / count, postgres: postgresMs / count },
      machineBusyPercent: (machineBusyMs / machineTotalMs) * 100,
      // Other helpers, editors, CI on the same machine: large values mean noisy numbers.
      otherBusyPercent: Math.max(0, ((machineBusyMs - clientMs - centralMs - postgresMs) / machineTotalMs) * 100),
    }
  }
}

function totalCpuMs(cell: CellResult): number {
  return cell.cpuPerRequestMs.client + cell.cpuPerRequestMs.central + cell.cpuPerRequestMs.postgres
}

// --- raw SQL ------------------------------------------------------------------------------

/** A successor blob of the real size; sealing is crypto, not SQL, so it is done once. */
const PLACEHOLDER_SEALED = sealSuccessor(generateRefreshToken(), generateRefreshToken(), randomUUID())

/**
 * The statements of `refreshSession`'s rotation path (central/sessions/refresh-session.ts) in
 * one transaction, through the same store functions — minus the decision, grant narrowing,
 * sealing and JWT signing, which are not database work.
 */
async function rotateDirectly(sql: Sql, chain: Chain): Promise<void> {
  const now = new Date()
  const tokenHash = hashRefreshToken(chain.token)
  const successor = generateRefreshToken()
  await sql.begin(async (tx) => {
    const session = await lockSessionByTokenHash(tx, tokenHash)
    const token = await findRefreshTokenByHash(tx, tokenHash)
    if (!session || !token || token.rotatedAt) throw new Error(`raw rotation found no live token for session ${chain.sessionId}`)
    const rotated = await applyRotation(tx, {
      tokenId: token.id,
      session,
      successorHash: hashRefreshToken(successor),
      successorSealed: PLACEHOLDER_SEALED,
      now,
      idleExpiresAt: new Date(+now + 30 * 24 * 3600 * 1000),
      ip: '127.0.0.1',
      userAgent: USER_AGENT,
    })
    if (!rotated) throw new Error(`raw rotation lost a race on session ${chain.sessionId}`)
  })
  chain.token = successor
}

// --- HTTP ---------------------------------------------------------------------------------

/**
 * One `POST /oauth/token` on a keep-alive connection. node:http rather than `fetch`: it costs the
 * load generator less CPU per request, which matters when it shares two cores with the service.
 */
async function refreshOverHttp(agent: Agent, baseUrl: string, chain: Chain): Promise<void> {
  const body = `grant_type=refresh_token&refresh_token=${encodeURIComponent(chain.token)}`
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      `${baseUrl}/oauth/token`,
      {
        method: 'POST',
        agent,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(body),
          'User-Agent': USER_AGENT,
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
  if (status !== 200) {
    // The body is an RFC 6749 §5.2 error ({error, error_description}): no token in it.
    throw new Error(`POST /oauth/token answered ${status} for session ${chain.sessionId}: ${text.slice(0, 300)}`)
  }
  const refreshToken = (JSON.parse(text) as { refresh_token?: unknown }).refresh_token
  if (typeof refreshToken !== 'string') throw new Error(`POST /oauth/token answered 200 without a refresh_token for session ${chain.sessionId}`)
  chain.token = refreshToken
}

// --- sanity -------------------------------------------------------------------------------

/**
 * Each chain must still be one live session with exactly one unspent refresh token, and that
 * token must be the one its worker holds: no fork, no lost rotation, no revocation.
 * (Inline SQL: a read-only check of the bench's own throwaway database.)
 */
async function assertSingleLiveChains(sql: Sql, chains: Chain[]): Promise<void> {
  const rows = await sql<{ session_id: string; live: number; revoked: boolean; live_hash: Buffer | null }[]>`
    select s.id as session_id,
           count(t.id) filter (where t.rotated_at is null)::int as live,
           s.revoked_at is not null as revoked,
           (array_agg(t.token_hash) filter (where t.rotated_at is null))[1] as live_hash
    from sessions s left join refresh_tokens t on t.session_id = s.id
    where s.id = any(${chains.map((c) => c.sessionId)}::uuid[])
    group by s.id`
  const bySession = new Map(rows.map((r) => [r.session_id, r]))
  for (const chain of chains) {
    const row = bySession.get(chain.sessionId)
    if (!row) throw new Error(`session ${chain.sessionId} vanished`)
    if (row.revoked) throw new Error(`session ${chain.sessionId} was revoked during the bench`)
    if (row.live !== 1) throw new Error(`session ${chain.sessionId} has ${row.live} live refresh tokens, expected exactly 1`)
    if (!row.live_hash || !hashRefreshToken(chain.token).equals(row.live_hash)) {
      throw new Error(`session ${chain.sessionId}: the live refresh token is not the one the client holds`)
    }
  }
}

// --- the service process --------------------------------------------------------------------

interface CentralProcess {
  url: string
  pid: number
  stop(): Promise<void>
}

/**
 * Starts `central/main.ts` in its own Node process, as `npm start` does, so the service gets its
 * own event loop instead of sharing one with the load generator.
 */
async function startCentralProcess(env: Record<string, string>): Promise<CentralProcess> {
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the service (open it in Chrome DevTools).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  const child: ChildProcess = spawn(process.execPath, [...profile, '--import', 'tsx', 'central/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`central did not start within 30 s:\n${output}`)), 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8')
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`central exited with ${code} before listening:\n${output}`))
    })
  })
  // Keep draining its output (a full pipe would block the service); show only errors.
  child.stdout!.removeAllListeners('data').resume()
  child.stderr!.removeAllListeners('data').on('data', (chunk: Buffer) => process.stderr.write(`[central] ${chunk}`))
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

