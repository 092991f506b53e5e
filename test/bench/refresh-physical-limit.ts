/**
 * What a rotating refresh costs PostgreSQL at the least, and how to count what a real one costs.
 *
 * - The physical limit: any rotating-refresh design must at least swap the session's current
 *   token hash for its successor's, atomically, so two presenters of one token cannot both win
 *   (RFC 6749 §10.4). That is one prepared compare-and-swap `update … where token_hash = $old
 *   returning …` on one row per chain: one statement, one round trip, no HTTP, JSON or signing.
 * - Statements and round trips per request of any party (this process, or a service in a
 *   child process), counted on the wire by a small PostgreSQL protocol proxy.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import postgres, { type Sql } from 'postgres'
import { MeasuredCell, ownCpuMs, type CellResult, type CpuReading } from './load-generator'

export const PHYSICAL_LIMIT_TABLE = 'bench_refresh_chains'

/** Unmeasured load before a measured cell. */
const WARMUP_MS = 1000

interface LimitChain {
  id: string
  tokenHash: Buffer
}

/** One chain = one row: the storage of a session whose refresh tokens rotate in place. */
async function createChains(sql: Sql, count: number): Promise<LimitChain[]> {
  await sql`
    create table if not exists ${sql(PHYSICAL_LIMIT_TABLE)} (
      id uuid primary key,
      token_hash bytea not null,
      rotations integer not null default 0,
      rotated_at timestamptz not null default now()
    )`
  const chains = Array.from({ length: count }, () => ({ id: randomUUID(), tokenHash: hashOpaqueToken(newOpaqueToken()) }))
  await sql`insert into ${sql(PHYSICAL_LIMIT_TABLE)} ${sql(chains.map((c) => ({ id: c.id, token_hash: c.tokenHash })))}`
  return chains
}

function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url')
}

function hashOpaqueToken(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

/**
 * One rotation: a fresh 256-bit token, its SHA-256, and the compare-and-swap. A miss means the
 * chain was rotated by someone else, which the bench never does: it fails loudly.
 */
async function rotateInPlace(sql: Sql, chain: LimitChain): Promise<void> {
  const successorHash = hashOpaqueToken(newOpaqueToken())
  const [row]: [{ rotations: number }?] = await sql`
    update ${sql(PHYSICAL_LIMIT_TABLE)}
    set token_hash = ${successorHash}, rotations = rotations + 1, rotated_at = now()
    where id = ${chain.id} and token_hash = ${chain.tokenHash}
    returning rotations`
  if (!row) throw new Error(`physical limit: the compare-and-swap on chain ${chain.id} matched no row`)
  chain.tokenHash = successorHash
}

export interface PhysicalLimitCellOptions {
  /** A postgres.js pool of the same size as the services under comparison. */
  sql: Sql
  concurrency: number
  durationMs: number
  /** CPU ms of the PostgreSQL processes so far; NaN when not given. */
  postgresCpuMs?: () => number
}

export interface PhysicalLimitResult extends CellResult {
  roundTripsPerOp: number
  statementsPerOp: number
}

export interface PhysicalLimitCell {
  cell: MeasuredCell
  /** Checks every chain's row still holds the hash its worker last set. */
  assertChainsIntact(): Promise<void>
}

/**
 * Builds the limit's cell without running it, so a caller can interleave its windows with
 * another mode's. CPU parties: `client` (this process: the postgres.js driver) and `postgres`.
 */
export async function createPhysicalLimitCell(options: Omit<PhysicalLimitCellOptions, 'durationMs'>): Promise<PhysicalLimitCell> {
  const { sql, concurrency } = options
  const chains = await createChains(sql, concurrency)
  const readCpu = (): CpuReading => ({ client: ownCpuMs(), postgres: options.postgresCpuMs?.() ?? Number.NaN })
  return {
    cell: new MeasuredCell(concurrency, readCpu, (worker) => rotateInPlace(sql, chains[worker]!)),
    assertChainsIntact: async () => {
      const rows = await sql<{ id: string; token_hash: Buffer }[]>`
        select id, token_hash from ${sql(PHYSICAL_LIMIT_TABLE)} where id = any(${chains.map((c) => c.id)}::uuid[])`
      const byId = new Map(rows.map((r) => [r.id, r.token_hash]))
      for (const chain of chains) {
        if (!byId.get(chain.id)?.equals(chain.tokenHash)) throw new Error(`physical limit: chain ${chain.id} does not hold its worker's hash`)
      }
    },
  }
}

/**
 * The physical limit at one concurrency: a warm-up, then `durationMs` measured.
 * Round trips and statements per op are 1/1 by construction; `measureStatementsPerRequest`
 * confirms it on the wire.
 */
export async function runPhysicalLimitCell(options: PhysicalLimitCellOptions): Promise<PhysicalLimitResult> {
  const { cell, assertChainsIntact } = await createPhysicalLimitCell(options)
  await cell.warmUp(Math.min(WARMUP_MS, options.durationMs))
  await cell.measure(options.durationMs)
  await assertChainsIntact()
  return { ...cell.result(), roundTripsPerOp: 1, statementsPerOp: 1 }
}

// --- counting statements on the wire --------------------------------------------------------

/*
 * Why a wire proxy: PostgreSQL itself cannot count statements per request here without a
 * restart. pg_stat_statements ships with the embedded server but must be in
 * shared_preload_libraries when the server starts, and the bench shares a server started
 * without it; pg_stat_database counts transactions (a seven-statement transaction is one), and
 * its counters reach the view only when a backend flushes, up to seconds later. postgres.js'
 * `debug` hook sees only queries of this process, not a service in a child process. A proxy
 * between a party and PostgreSQL sees every message the party sends, whatever the process or
 * driver: each Execute or simple Query is a statement the server runs, and each Sync or simple
 * Query ends a batch the client then waits for, i.e. a round trip (exact when requests run one
 * at a time, as they do here, so no pipelining merges them). It costs a hop, so it only runs
 * in its own pass, never inside a throughput cell.
 */

export interface WireCounts {
  statements: number
  roundTrips: number
}

interface CountingProxy {
  /** `databaseUrl` with its host and port replaced by the proxy's. */
  url: string
  counts: WireCounts
  reset(): void
  stop(): Promise<void>
}

/** SSLRequest and GSSENCRequest: untyped messages after which the startup message follows. */
const NEGOTIATION_CODES = new Set([80877103, 80877104])

async function startCountingProxy(databaseUrl: string): Promise<CountingProxy> {
  const target = new URL(databaseUrl)
  const counts: WireCounts = { statements: 0, roundTrips: 0 }
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) })
    sockets.add(client).add(upstream)
    let pending = Buffer.alloc(0)
    let started = false
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      // Frontend messages: untyped (int32 length, int32 code) until startup, then type byte + int32 length.
      for (;;) {
        if (!started) {
          if (pending.length < 8) break
          const length = pending.readInt32BE(0)
          if (pending.length < length) break
          if (!NEGOTIATION_CODES.has(pending.readInt32BE(4))) started = true
          pending = pending.subarray(length)
        } else {
          if (pending.length < 5) break
          const length = pending.readInt32BE(1) + 1
          if (pending.length < length) break
          const type = String.fromCharCode(pending[0]!)
          if (type === 'Q') {
            counts.statements++
            counts.roundTrips++
          } else if (type === 'E') counts.statements++
          else if (type === 'S') counts.roundTrips++
          pending = pending.subarray(length)
        }
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => client.write(chunk))
    const close = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('close', close).on('error', close)
    upstream.on('close', close).on('error', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('the counting proxy has no port')
  const url = new URL(databaseUrl)
  url.hostname = '127.0.0.1'
  url.port = String(address.port)
  return {
    url: url.href,
    counts,
    reset: () => {
      counts.statements = 0
      counts.roundTrips = 0
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A party under count: started against the proxy's URL, answering one request at a time. */
export interface CountedParty {
  /** One request (a refresh, a rotation); throws unless it succeeded. */
  request(): Promise<void>
  stop(): Promise<void>
}

export interface StatementsPerRequest {
  statementsPerRequest: number
  roundTripsPerRequest: number
  requests: number
}

/**
 * Statements and round trips to PostgreSQL per request of one party, counted on the wire.
 * `start(url)` must send all of the party's database traffic to `url`; the first `warmUpRequests`
 * requests (prepared statements, pool connections) are not counted.
 */
export async function measureStatementsPerRequest(options: {
  databaseUrl: string
  start: (proxiedDatabaseUrl: string) => Promise<CountedParty>
  requests?: number
  warmUpRequests?: number
}): Promise<StatementsPerRequest> {
  const requests = options.requests ?? 50
  const proxy = await startCountingProxy(options.databaseUrl)
  try {
    const party = await options.start(proxy.url)
    try {
      for (let i = 0; i < (options.warmUpRequests ?? 10); i++) await party.request()
      proxy.reset()
      for (let i = 0; i < requests; i++) await party.request()
      // Work a party defers past its answer lands in the next request's count; only the last one's can be missed.
      const { statements, roundTrips } = proxy.counts
      return { statementsPerRequest: statements / requests, roundTripsPerRequest: roundTrips / requests, requests }
    } finally {
      await party.stop()
    }
  } finally {
    await proxy.stop()
  }
}

/** The physical limit as a counted party: its own one-connection pool through the proxy. */
export async function startPhysicalLimitParty(proxiedDatabaseUrl: string): Promise<CountedParty> {
  const sql = postgres(proxiedDatabaseUrl, { max: 1, onnotice: () => {} })
  const [chain] = await createChains(sql, 1)
  return {
    request: () => rotateInPlace(sql, chain!),
    stop: () => sql.end({ timeout: 5 }),
  }
}
