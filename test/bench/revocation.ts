/**
 * Bench section `revocation`, on the whole stack: central (real server, embedded PostgreSQL) + the
 * edge Worker in workerd (miniflare) with its per-location revocation hub (a Durable Object) + a
 * Node origin, all on 127.0.0.1. Goal for every latency below: p99 ≤ 1.5 s (REVOCATION_TRUST_SECONDS).
 *
 *  (a) revocation → rejection under steady traffic: revocations at random moments, each watched
 *      every 50 ms from "DELETE answered" to the first 401.
 *  (b) the same after idle gaps: the edge gets no request for 1.6–4 s, a session is revoked, and
 *      the client calls right after (the isolate's first request after the gap must not be served
 *      from its old copy).
 *  (c) key rotation → acceptance: an unknown kid first arms the JWKS refetch cooldown, then an
 *      immediate rotation; time from the rotation to the first 200 for a token of the new key.
 *  (d) central's feed load: polls per second at central for 1, 10 and 100 simulated isolates (the
 *      edge's own `RevocationList`, one request each every 100 ms), asking the hub vs polling
 *      central directly.
 *  (e) request-path cost of the check: req/s through an edge with the feed on (hub, populated with
 *      10k revoked sessions + 1k logged-out users) and an edge with the feed off (twice: an A/A
 *      control sizes the noise), same tokens, 1 s rounds alternated so drift hits every side.
 *  (f) central's side of one poll (200 vs 304) with that feed, and the check in isolation (Node).
 *
 * Sizes: BENCH_REVOCATIONS (30), BENCH_IDLE_REVOCATIONS (8), BENCH_ROTATIONS (4),
 * BENCH_LOAD_SECONDS (4 s per isolate count and mode), BENCH_SECONDS (6 s of throughput rounds per
 * side), BENCH_EDGE_CONCURRENCY (32).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres } from '../../central/db/embedded-postgres'
import { parseEdgeConfig } from '../../edge/config'
import { RevocationList, type RevocationFeedSettings } from '../../edge/revocations'
import type { RevocationFeed } from '../../shared/revocation-feed'
import { unknownKidToken } from '../support/edge-keys'
import { startEdge, type RunningEdge } from '../support/edge-worker'
import {
  AUDIENCE,
  EDGE_FEED_TOKEN,
  ISSUER,
  issueSessionAsAdmin,
  revokeSessionAsAdmin,
  rotateKeysAsAdmin,
  startFeedProxy,
  startWholeStack,
  type SessionTokens,
  type WholeStack,
} from '../e2e/whole-stack'
import { percentile, printTable, runForDuration, summarize } from './report'

const GOAL_MS = 1500 // the default REVOCATION_TRUST_SECONDS: the design bound
const REVOCATIONS = Number(process.env.BENCH_REVOCATIONS ?? 30)
const IDLE_REVOCATIONS = Number(process.env.BENCH_IDLE_REVOCATIONS ?? 12)
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 4)
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 4)
const SPREAD_MS = 15_000
const WATCH_INTERVAL_MS = 50
/** Measured seconds per side, in 1 s rounds alternating on/off so drift (load from other processes, GC) hits both. */
const SECONDS_PER_SIDE = Number(process.env.BENCH_SECONDS ?? 6)
const ROUND_MS = 1000
const CONCURRENCY = Number(process.env.BENCH_EDGE_CONCURRENCY ?? 32)
const ROUNDS = Math.max(2, SECONDS_PER_SIDE)
const FEED_SESSIONS = 10_000
const FEED_USERS = 1_000
const LIVE_TOKENS = 200

const agent = new Agent({ keepAlive: true, maxSockets: 256 })

/** One GET through the edge over a keep-alive connection; resolves with the status. */
function hit(edge: RunningEdge, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: edge.url.hostname, port: edge.url.port, path: '/api/me', agent, headers: { Authorization: `Bearer ${token}` } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Calls the edge with `token` every 50 ms from now until it answers `status`; the ms from `since`. */
async function msUntil(edge: RunningEdge, token: string, status: number, since: number): Promise<number> {
  for (;;) {
    const answer = await hit(edge, token)
    if (answer === status) return performance.now() - since
    if (answer !== 200 && answer !== 401) throw new Error(`edge answered ${answer} while waiting for ${status}`)
    if (performance.now() - since > 60_000) throw new Error(`no ${status} within 60 s`)
    await sleep(WATCH_INTERVAL_MS)
  }
}

function latencyRow(label: string, delays: number[]): (string | number)[] {
  const sorted = [...delays].sort((a, b) => a - b)
  const p99 = percentile(sorted, 0.99)
  return [label, String(sorted.length), sorted[0]!, percentile(sorted, 0.5), p99, sorted.at(-1)!, GOAL_MS, p99 <= GOAL_MS ? 'yes' : 'NO']
}

/** (a) Steady traffic: every pending revocation is watched every 50 ms. */
async function measureSteadyLatency(stack: WholeStack): Promise<number[]> {
  const sessions: SessionTokens[] = []
  for (let i = 0; i < REVOCATIONS; i++) sessions.push(await issueSessionAsAdmin(stack.central.url, `latency-${i}`))
  for (const session of sessions) if ((await hit(stack.edge, session.accessToken)) !== 200) throw new Error('a fresh session was not accepted')
  // Background traffic so the edge is never idle, and revocations land at every phase of the hub's poll.
  let steady = true
  const keepBusy = (async () => {
    while (steady) {
      await hit(stack.edge, sessions[0]!.accessToken)
      await sleep(WATCH_INTERVAL_MS)
    }
  })()
  const offsets = sessions.map(() => Math.random() * SPREAD_MS).sort((a, b) => a - b)
  const delays = await Promise.all(
    sessions.slice(1).map(async (session, i) => {
      await sleep(offsets[i]!)
      await revokeSessionAsAdmin(stack.central.url, session.sid)
      return msUntil(stack.edge, session.accessToken, 401, performance.now())
    }),
  )
  steady = false
  await keepBusy
  return delays
}

/**
 * (b) Idle gaps: no request for 1.6–4 s, then a revocation. Every other time the client calls at
 * once and every 50 ms (revoke → 401 on an isolate that was idle); the other times it stays away
 * for a random 1.5–3 s more, and its first answer must be 401: a 200 would be an old copy served
 * after idleness.
 */
async function measureIdleLatency(stack: WholeStack): Promise<{ delays: number[]; lateFirstRequests: number; staleLateAnswers: number }> {
  const delays: number[] = []
  let lateFirstRequests = 0
  let staleLateAnswers = 0
  for (let i = 0; i < IDLE_REVOCATIONS; i++) {
    const session = await issueSessionAsAdmin(stack.central.url, `idle-${i}`)
    if ((await hit(stack.edge, session.accessToken)) !== 200) throw new Error('a fresh session was not accepted')
    await sleep(1600 + Math.random() * 2400)
    await revokeSessionAsAdmin(stack.central.url, session.sid)
    const revokedAt = performance.now()
    if (i % 2 === 0) {
      delays.push(await msUntil(stack.edge, session.accessToken, 401, revokedAt))
      continue
    }
    await sleep(GOAL_MS + Math.random() * 1500)
    lateFirstRequests++
    if ((await hit(stack.edge, session.accessToken)) !== 401) staleLateAnswers++
  }
  return { delays, lateFirstRequests, staleLateAnswers }
}


/** (c) Immediate rotation → the first 200 for a token of the new key, with the cooldown armed before. */
async function measureRotationLatency(stack: WholeStack): Promise<number[]> {
  const delays: number[] = []
  for (let i = 0; i < ROTATIONS; i++) {
    const before = await issueSessionAsAdmin(stack.central.url, `rotation-${i}`)
    if ((await hit(stack.edge, before.accessToken)) !== 200) throw new Error('a fresh session was not accepted')
    if ((await hit(stack.edge, await unknownKidToken({ iss: ISSUER, aud: AUDIENCE }))) !== 401) throw new Error('an unknown kid was accepted')
    await rotateKeysAsAdmin(stack.central.url, { immediate: true })
    const rotatedAt = performance.now()
    const after = await issueSessionAsAdmin(stack.central.url, `rotation-${i}-after`)
    delays.push(await msUntil(stack.edge, after.accessToken, 200, rotatedAt))
    await sleep(500 + Math.random() * 1000)
  }
  return delays
}

async function measureLatencies(stack: WholeStack): Promise<void> {
  const steady = await measureSteadyLatency(stack)
  const idle = await measureIdleLatency(stack)
  const rotation = await measureRotationLatency(stack)
  printTable(
    'revocation and key changes → effect at the edge (hub, REVOCATION_POLL_SECONDS=1, REVOCATION_TRUST_SECONDS=1.5, hub poll 0.5 s; watched every 50 ms)',
    ['pattern', 'n', 'min ms', 'median ms', 'p99 ms', 'max ms', 'goal p99 ms', 'met'],
    [
      latencyRow('revoke → 401, steady traffic', steady),
      latencyRow('revoke → 401, after an idle gap', idle.delays),
      latencyRow('immediate rotation → new key 200 (cooldown armed)', rotation),
    ],
  )
  console.log(
    `idle gaps: ${idle.lateFirstRequests} first requests came 1.5–3 s after the revocation; ${idle.staleLateAnswers} of them were answered 200 (goal 0)`,
  )
}

interface LoadRig {
  feed: WholeStack['feed']
  edge: RunningEdge
}

/**
 * (d) Polls per second at central for `isolates` simulated isolates, each with one request every
 * 100 ms. The rig has its own feed proxy and its own edge (so its own hubs), and its hubs stop
 * 1 s after the last ask, so one run's hub does not poll into the next run's count.
 */
async function measureFeedLoad(rig: LoadRig, isolates: number, mode: 'hub' | 'direct', location: string): Promise<{ hub: number; direct: number }> {
  const settings = defaultFeedSettings(`${rig.feed.url}/edge/revocations`, EDGE_FEED_TOKEN)
  const namespace = mode === 'hub' ? await rig.edge.hubNamespace() : undefined
  const lists = Array.from(
    { length: isolates },
    () =>
      new RevocationList(settings, {
        // miniflare's Durable Object proxy does not take an AbortSignal: headers only.
        askHub: namespace ? (name, init) => namespace.get(namespace.idFromName(name) as never).fetch('https://revocation-hub/feed', { headers: init.headers }) : undefined,
      }),
  )
  const pending = new Set<Promise<unknown>>()
  const waitUntil = (promise: Promise<unknown>) => {
    pending.add(promise)
    void promise.finally(() => pending.delete(promise))
  }
  const count = () => ({ hub: rig.feed.hubPolls, direct: rig.feed.polls - rig.feed.hubPolls })
  // Warm-up: every isolate loads its copy, so only the steady state is counted.
  await Promise.all(lists.map((list) => list.stateForRequest(Date.now(), waitUntil, location)))
  const before = count()
  const started = performance.now()
  while (performance.now() - started < LOAD_SECONDS * 1000) {
    for (const list of lists) {
      const state = list.stateForRequest(Date.now(), waitUntil, location)
      if (state instanceof Promise) waitUntil(state)
    }
    await sleep(100)
  }
  const after = count()
  const seconds = (performance.now() - started) / 1000
  await Promise.all(pending)
  // Let this run's hub stop (idle 1 s) before the next run counts.
  await sleep(2000)
  return { hub: (after.hub - before.hub) / seconds, direct: (after.direct - before.direct) / seconds }
}

async function measureCentralLoad(stack: WholeStack): Promise<void> {
  const feed = await startFeedProxy(() => stack.central.url)
  const edge = await startEdge(
    {
      ISSUER,
      JWKS_URL: `${stack.central.url}/.well-known/jwks.json`,
      CENTRAL_URL: stack.central.url,
      ROUTES: JSON.stringify([{ prefix: '/api/', origin: stack.origin.url, audience: AUDIENCE }]),
      EDGE_FEED_TOKEN,
      REVOCATION_FEED_URL: `${feed.url}/edge/revocations`,
      REVOCATION_HUB_IDLE_SECONDS: '1',
    },
    { hub: true },
  )
  const rows: (string | number)[][] = []
  try {
    for (const isolates of [1, 10, 100]) {
      const direct = await measureFeedLoad({ feed, edge }, isolates, 'direct', 'bench-direct')
      // A location of its own per run, so each starts with a cold hub like a new location would.
      const viaHub = await measureFeedLoad({ feed, edge }, isolates, 'hub', `bench-hub-${isolates}`)
      // Isolates that gave up on the hub poll central themselves: counted, so the hub column hides nothing.
      const hubTotal = viaHub.hub + viaHub.direct
      rows.push([String(isolates), direct.direct, viaHub.hub, viaHub.direct, direct.direct / hubTotal])
    }
  } finally {
    await edge.dispose()
    await feed.close()
  }
  printTable(
    `central feed load: polls/s at central for simulated isolates in one location (one request each every 100 ms, ${LOAD_SECONDS} s each)`,
    ['isolates', 'direct poll /s', 'via hub: hub /s', 'via hub: fallback /s', 'direct / hub'],
    rows,
  )
}

/** Puts 10k revoked sessions and 1k logged-out users into the feed window, as a busy deployment would have. */
async function populateFeed(stack: WholeStack): Promise<void> {
  const sql = stack.central.sql
  await sql`
    insert into users (username, not_before)
    select 'feed-user-' || n, now() from generate_series(1, ${FEED_USERS}) as n`
  const [owner] = await sql<{ id: string }[]>`insert into users (username) values ('feed-owner') returning id`
  await sql`
    insert into sessions (user_id, client_id, audiences, scopes, created_at, last_used_at,
                          idle_expires_at, absolute_expires_at, revoked_at, revoked_reason)
    select ${owner!.id}, 'web', '{demo-api}', '{}', now(), now(), now() + interval '1 hour',
           now() + interval '1 day', now(), 'bench'
    from generate_series(1, ${FEED_SESSIONS})`
}

type Side = 'on' | 'off' | 'off2'
const SIDES: Side[] = ['on', 'off', 'off2']

/**
 * Three fresh edges on the same central, origin and tokens: one with the feed, two without.
 * The two without are an A/A control: their difference is what this machine calls noise.
 */
async function startEdges(stack: WholeStack): Promise<Record<Side, RunningEdge>> {
  const vars = {
    ISSUER,
    JWKS_URL: `${stack.central.url}/.well-known/jwks.json`,
    CENTRAL_URL: stack.central.url,
    ROUTES: JSON.stringify([{ prefix: '/api/', origin: stack.origin.url, audience: AUDIENCE }]),
  }
  const [on, off, off2] = await Promise.all([
    startEdge({ ...vars, EDGE_FEED_TOKEN, REVOCATION_FEED_URL: `${stack.feed.url}/edge/revocations` }, { hub: true }),
    startEdge(vars),
    startEdge(vars),
  ])
  return { on, off, off2 }
}

/** (b) req/s with the feed on vs off, same tokens, alternating rounds. */
async function measureRequestPathCost(stack: WholeStack, edges: Record<Side, RunningEdge>): Promise<void> {
  const tokens: string[] = []
  for (let i = 0; i < LIVE_TOKENS; i++) tokens.push((await issueSessionAsAdmin(stack.central.url, `load-${i}`)).accessToken)
  const feedBytes = await fetch(`${stack.feed.url}/edge/revocations`, { headers: { Authorization: `Bearer ${EDGE_FEED_TOKEN}` } }).then((r) => r.arrayBuffer())

  const latencies: Record<Side, number[]> = { on: [], off: [], off2: [] }
  const elapsed: Record<Side, number> = { on: 0, off: 0, off2: 0 }
  const failures: Record<Side, number> = { on: 0, off: 0, off2: 0 }
  const rounds: [string, number][] = []
  let next = 0
  // Unmeasured warm-up of both (JIT, connections, token cache, first feed load).
  for (const which of SIDES) {
    await runForDuration(CONCURRENCY, 2000, async () => void (await hit(edges[which], tokens[next++ % tokens.length]!)))
  }
  const pollsBefore = stack.feed.polls
  // The test origin records every request; keep its memory flat during the rounds.
  const forget = setInterval(() => (stack.origin.requests.length = 0), 1000)
  // on off off2 off2 off on …: each side goes first, middle and last equally often.
  const order: Side[] = ['on', 'off', 'off2', 'off2', 'off', 'on']
  for (let round = 0; round < ROUNDS * 3; round++) {
    const which = order[round % order.length]!
    const result = await runForDuration(CONCURRENCY, ROUND_MS, async () => {
      if ((await hit(edges[which], tokens[next++ % tokens.length]!)) !== 200) failures[which]++
    })
    latencies[which].push(...result.latenciesMs)
    elapsed[which] += result.elapsedMs
    rounds.push([which, (result.latenciesMs.length / result.elapsedMs) * 1000])
  }
  clearInterval(forget)
  if (failures.on || failures.off || failures.off2) throw new Error(`non-200 answers during the throughput rounds: ${JSON.stringify(failures)}`)
  const on = summarize(latencies.on, elapsed.on)
  const off = summarize(latencies.off, elapsed.off)
  const off2 = summarize(latencies.off2, elapsed.off2)
  // Compare against the mean of the two feed-off edges; the A/A gap bounds what can be resolved.
  const offMean = (off.perSecond + off2.perSecond) / 2
  const cost = 1 - on.perSecond / offMean
  const noise = Math.abs(off.perSecond - off2.perSecond) / offMean
  const perRound = (side: string) => rounds.filter((row) => row[0] === side).map((row) => Math.round(row[1] as number)).join(' ')
  console.log(`\nreq/s per 1 s round:\n  feed on:    ${perRound('on')}\n  feed off:   ${perRound('off')}\n  feed off 2: ${perRound('off2')}`)
  printTable(
    `request-path cost of the revocation check (feed: ${FEED_SESSIONS} sids + ${FEED_USERS} users, ${(feedBytes.byteLength / 1024).toFixed(0)} KiB; ${LIVE_TOKENS} live tokens; concurrency ${CONCURRENCY}; ${ROUNDS} × 1 s rounds each, alternated)`,
    ['edge', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs mean off'],
    [
      ['feed off', String(off.count), off.perSecond, off.p50Ms, off.p99Ms, off.perSecond / offMean],
      ['feed off (A/A control)', String(off2.count), off2.perSecond, off2.p50Ms, off2.p99Ms, off2.perSecond / offMean],
      ['feed on', String(on.count), on.perSecond, on.p50Ms, on.p99Ms, on.perSecond / offMean],
    ],
  )
  console.log(
    `cost: ${(cost * 100).toFixed(1)} % (goal ≤ 2 %); A/A gap between the two feed-off edges: ${(noise * 100).toFixed(1)} % — a cost smaller than that gap is not resolved by this run; feed polls during the rounds: ${stack.feed.polls - pollsBefore}; central answered ${stack.feed.statuses.filter((s) => s === 304).length} × 304 and ${stack.feed.statuses.filter((s) => s === 200).length} × 200 over the whole run`,
  )
}

/** Central's side of one poll, with the populated feed: a full answer and a 304. */
async function measureFeedAtCentral(stack: WholeStack): Promise<void> {
  const url = `${stack.central.url}/edge/revocations`
  const auth = { Authorization: `Bearer ${EDGE_FEED_TOKEN}` }
  const first = await fetch(url, { headers: auth })
  const etag = first.headers.get('ETag')!
  const bytes = (await first.arrayBuffer()).byteLength
  const timings: Record<'full' | 'unchanged', number[]> = { full: [], unchanged: [] }
  for (let i = 0; i < 20; i++) {
    for (const kind of ['full', 'unchanged'] as const) {
      const t0 = performance.now()
      const response = await fetch(url, { headers: kind === 'full' ? auth : { ...auth, 'If-None-Match': etag } })
      await response.arrayBuffer()
      if (response.status !== (kind === 'full' ? 200 : 304)) throw new Error(`feed answered ${response.status}`)
      timings[kind].push(performance.now() - t0)
    }
  }
  const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 0.5)
  printTable(
    `central: one poll of GET /edge/revocations with ${FEED_SESSIONS + FEED_USERS} entries (sequential, loopback)`,
    ['answer', 'bytes', 'median ms'],
    [
      ['200 (changed)', String(bytes), median(timings.full)],
      ['304 (unchanged)', '0', median(timings.unchanged)],
    ],
  )
}

/** (c) The same `RevocationList` in Node: lookup cost and full-feed load cost. */
async function measureCheckInIsolation(): Promise<void> {
  const now = Math.floor(Date.now() / 1000)
  const feed: RevocationFeed = {
    version: 'bench',
    generated_at: now,
    window_seconds: 930,
    sessions: Array.from({ length: FEED_SESSIONS }, () => ({ sid: crypto.randomUUID(), revoked_at: now })),
    users: Array.from({ length: FEED_USERS }, () => ({ sub: crypto.randomUUID(), not_before: now })),
  }
  const body = JSON.stringify(feed)
  const list = new RevocationList(
    defaultFeedSettings('http://feed.bench/edge/revocations', 'x'.repeat(32)),
    { fetchFeed: async () => new Response(body, { headers: { 'content-type': 'application/json' } }) },
  )
  const loads: number[] = []
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now()
    await list.poll(Date.now())
    loads.push(performance.now() - t0)
  }
  const probes = Array.from({ length: 1000 }, (_, i) => ({ sid: i % 2 ? feed.sessions[i]!.sid : crypto.randomUUID(), sub: crypto.randomUUID(), iat: now }))
  const lookups = 2_000_000
  let revoked = 0
  const t0 = performance.now()
  for (let i = 0; i < lookups; i++) if (list.isRevoked(probes[i % probes.length]!)) revoked++
  const nsPerLookup = ((performance.now() - t0) * 1e6) / lookups
  if (revoked !== lookups / 2) throw new Error('lookup bench miscounted')
  const sortedLoads = loads.slice(5).sort((a, b) => a - b)
  printTable(
    'the check in isolation (Node, same RevocationList code)',
    ['operation', 'entries', 'median', 'unit'],
    [
      ['isRevoked (sid hit or miss + user miss)', String(FEED_SESSIONS + FEED_USERS), nsPerLookup, 'ns'],
      ['load a changed feed (JSON, checks, sets)', String(FEED_SESSIONS + FEED_USERS), percentile(sortedLoads, 0.5), 'ms'],
      ['feed body', String(FEED_SESSIONS + FEED_USERS), body.length / (FEED_SESSIONS + FEED_USERS), 'bytes/entry'],
    ],
  )
}

export async function runRevocationBench(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-bench-revocation-'))
  const database = await startEmbeddedPostgres({ dataDir, persistent: false })
  let stack: WholeStack | undefined
  let edges: Record<Side, RunningEdge> | undefined
  try {
    stack = await startWholeStack({
      databaseUrl: database.url,
      centralEnv: { DATABASE_POOL_MAX: '10' },
      edgeOptions: { hub: true },
    })
    await measureLatencies(stack)
    await measureCentralLoad(stack)
    await populateFeed(stack)
    await measureFeedAtCentral(stack)
    edges = await startEdges(stack)
    await measureRequestPathCost(stack, edges)
    await measureCheckInIsolation()
  } finally {
    agent.destroy()
    for (const edge of Object.values(edges ?? {})) await edge.dispose()
    await stack?.close()
    await database.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** The feed settings an edge gets by default (edge/config.ts), for a feed at `url`. */
function defaultFeedSettings(url: string, token: string): RevocationFeedSettings {
  const { revocation } = parseEdgeConfig({
    ISSUER,
    JWKS_URL: `${ISSUER}/.well-known/jwks.json`,
    CENTRAL_URL: ISSUER,
    ROUTES: JSON.stringify([{ prefix: '/api/', origin: 'http://origin.bench', audience: AUDIENCE }]),
    EDGE_FEED_TOKEN: token,
  })
  return { ...revocation!, url }
}
