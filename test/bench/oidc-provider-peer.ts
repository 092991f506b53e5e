/**
 * The bench's peer for refresh: panva's `oidc-provider` (OpenID Certified), doing the same
 * rotating refresh grant as portcullis (RFC 6749 §6 with rotation, an RFC 8707 resource, ES256
 * RFC 9068 JWT access tokens) on the same PostgreSQL through postgres.js, with a one-statement-
 * per-call adapter of our own (./oidc-provider-pg-adapter.ts).
 *
 * The provider runs in its own Node process on 127.0.0.1 (this file, started with `--serve`),
 * so its CPU is measured apart from the load generator's, as central's is. Refresh tokens to
 * start from are obtained as a real client would: an authorization-code flow over HTTP through
 * the provider's development login and consent pages, then the code exchanged at the token
 * endpoint. That runs every model the provider stores (Interaction, Session, Grant,
 * AuthorizationCode, RefreshToken) through our adapter before anything is measured.
 *
 * `npx tsx test/bench/oidc-provider-peer.ts` runs a quick comparison with the physical limit
 * on a throwaway embedded PostgreSQL (BENCH_SECONDS per cell, default 5).
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/docs/README.md
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, Agent, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import postgres from 'postgres'
import { startEmbeddedPostgres } from '../../central/db/embedded-postgres'
import { descendantsCpuMs, processCpuMs } from './cpu-usage'
import { MeasuredCell, ownCpuMs, postForm, type CellResult } from './load-generator'
import { createPostgresAdapter, ensureOidcProviderTable } from './oidc-provider-pg-adapter'
import {
  createPhysicalLimitCell,
  measureStatementsPerRequest,
  startPhysicalLimitParty,
  type PhysicalLimitResult,
  type StatementsPerRequest,
} from './refresh-physical-limit'
import { startServiceProcess } from './service-process'
import { printTable } from './report'

const SERVE_FLAG = '--serve'
const CLIENT_ID = 'portcullis-bench'
const RESOURCE = 'https://api.example.test'
const RESOURCE_SCOPE = 'api:read'
const REDIRECT_URI = 'https://client.example.test/callback'
/** The access-token lifetime portcullis uses, so both sign the same kind of token. */
const ACCESS_TOKEN_TTL_SECONDS = 900
const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600
/** Unmeasured load before each cell: JIT, pool connections, PostgreSQL caches. */
const WARMUP_MS = 1000
/** Measured windows per cell, alternating peer and physical limit so both see the same background load. */
const ROUNDS = 3
/** How many seeding flows run at once; each is a handful of sequential requests. */
const SEED_PARALLELISM = 8

export interface OidcProviderPeer {
  url: string
  pid: number
  tokenEndpoint: string
  clientId: string
  clientSecret: string
  /** The RFC 8707 resource every refresh token is bound to: the `aud` of its access tokens. */
  resource: string
  /** `n` fresh refresh tokens, each the start of its own grant (one login and consent each). */
  seedRefreshTokens(n: number): Promise<string[]>
  stop(): Promise<void>
}

// --- the peer process -------------------------------------------------------------------------

/**
 * Starts oidc-provider in its own Node process against `databaseUrl`, with `poolMax`
 * connections in its postgres.js pool (the same as the service it is compared with).
 */
export async function startOidcProviderPeer(options: { databaseUrl: string; poolMax: number }): Promise<OidcProviderPeer> {
  const clientSecret = randomBytes(32).toString('base64url')
  const service = await startServiceProcess({
    name: 'oidc-provider',
    args: [fileURLToPath(import.meta.url), SERVE_FLAG],
    env: { PEER_DATABASE_URL: options.databaseUrl, PEER_POOL_MAX: String(options.poolMax), PEER_CLIENT_SECRET: clientSecret },
  })
  const url = service.url
  const peer: OidcProviderPeer = {
    url,
    pid: service.pid,
    tokenEndpoint: `${url}/token`,
    clientId: CLIENT_ID,
    clientSecret,
    resource: RESOURCE,
    seedRefreshTokens: async (n) => {
      const tokens: string[] = []
      let next = 0
      await Promise.all(
        Array.from({ length: Math.min(n, SEED_PARALLELISM) }, async () => {
          while (next < n) {
            next++
            tokens.push(await signInThroughAuthorizationCode(peer, `bench-user-${randomUUID()}`))
          }
        }),
      )
      return tokens
    },
    stop: () => service.stop(),
  }
  return peer
}

/** The slice of oidc-provider's API the peer uses (the package ships no type declarations). */
interface ProviderModule {
  default: new (issuer: string, configuration: Record<string, unknown>) => { callback(): (req: IncomingMessage, res: ServerResponse) => void }
  errors: { InvalidTarget: new (description?: string) => Error }
}

/** The child process: oidc-provider configured like portcullis' refresh, listening on 127.0.0.1. */
async function serveOidcProvider(): Promise<void> {
  const databaseUrl = process.env.PEER_DATABASE_URL
  const clientSecret = process.env.PEER_CLIENT_SECRET
  if (!databaseUrl || !clientSecret) throw new Error('PEER_DATABASE_URL and PEER_CLIENT_SECRET are required')
  const sql = postgres(databaseUrl, { max: Number(process.env.PEER_POOL_MAX ?? 10), onnotice: () => {} })
  await ensureOidcProviderTable(sql)
  // A package without type declarations: imported by a computed name, typed by ProviderModule.
  const moduleName = 'oidc-provider'
  const { default: Provider, errors } = (await import(moduleName)) as ProviderModule

  const signingKey = {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    kid: randomUUID(),
    alg: 'ES256',
    use: 'sig',
  }
  // The issuer must name the port, so listen first and attach the provider after.
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('the peer has no port')
  const issuer = `http://127.0.0.1:${address.port}`
  const provider = new Provider(issuer, {
    adapter: createPostgresAdapter(sql),
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // Accounts are whoever signs in at the development login: no store to look up.
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    rotateRefreshToken: true,
    // The chain outlives the browser session, as a portcullis session does.
    expiresWithSession: () => false,
    pkce: { required: () => false },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget()
          return {
            scope: RESOURCE_SCOPE,
            audience: RESOURCE,
            accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          }
        },
      },
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL_SECONDS,
      ClientCredentials: ACCESS_TOKEN_TTL_SECONDS,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: REFRESH_TOKEN_TTL_SECONDS,
      Grant: REFRESH_TOKEN_TTL_SECONDS,
      RefreshToken: REFRESH_TOKEN_TTL_SECONDS,
      IdToken: 3600,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      PreAuthorizedCode: 600,
    },
  })
  server.on('request', provider.callback())
  const shutDown = () => server.close(() => void sql.end({ timeout: 5 }).then(() => process.exit(0)))
  process.once('SIGTERM', shutDown)
  process.once('SIGINT', shutDown)
  console.log(`oidc-provider listening on ${issuer}`)
}

// --- client side ----------------------------------------------------------------------------

function basicAuthorization(peer: OidcProviderPeer): string {
  // RFC 6749 §2.3.1: each part form-urlencoded before base64.
  const credentials = `${encodeURIComponent(peer.clientId)}:${encodeURIComponent(peer.clientSecret)}`
  return `Basic ${Buffer.from(credentials).toString('base64')}`
}

/**
 * One client's sign-in: authorization request (offline access to the resource, consent
 * prompted, as the provider requires for refresh tokens), the development login and consent
 * forms, then the code exchanged at the token endpoint. Returns the refresh token.
 */
async function signInThroughAuthorizationCode(peer: OidcProviderPeer, login: string): Promise<string> {
  const cookies = new Map<string, string>()
  const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const response = await fetch(new URL(url, peer.url), {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    })
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';', 1)[0]!
      const name = pair.slice(0, pair.indexOf('='))
      const value = pair.slice(pair.indexOf('=') + 1)
      if (value) cookies.set(name, value)
      else cookies.delete(name)
    }
    return response
  }
  const authorize = new URL('/auth', peer.url)
  authorize.search = new URLSearchParams({
    client_id: peer.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: `offline_access ${RESOURCE_SCOPE}`,
    resource: peer.resource,
    prompt: 'consent',
    state: randomUUID(),
  }).toString()
  let location = authorize.href
  let code: string | undefined
  for (let hop = 0; hop < 12 && !code; hop++) {
    if (location.startsWith(REDIRECT_URI)) {
      const params = new URL(location).searchParams
      code = params.get('code') ?? undefined
      if (!code) throw new Error(`oidc-provider refused the authorization request: ${params.get('error')} ${params.get('error_description')}`)
      break
    }
    let response = await send(location)
    if (response.status === 200) {
      // A development interaction page: submit its form as a person would.
      const page = await response.text()
      const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1]
      const prompt = /name="prompt" value="([^"]+)"/.exec(page)?.[1]
      if (!action || !prompt) throw new Error(`unexpected oidc-provider interaction page: ${page.slice(0, 300)}`)
      const form = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt })
      response = await send(action.replaceAll('&amp;', '&'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      })
    }
    const next = response.headers.get('location')
    if (response.status < 300 || response.status >= 400 || !next) {
      throw new Error(`oidc-provider sign-in stopped at ${location}: ${response.status} ${(await response.text()).slice(0, 300)}`)
    }
    location = new URL(next, peer.url).href
  }
  if (!code) throw new Error('oidc-provider sign-in did not reach the redirect URI')
  const exchanged = await fetch(peer.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(peer) },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }).toString(),
  })
  const body = (await exchanged.json()) as { refresh_token?: unknown }
  if (exchanged.status !== 200 || typeof body.refresh_token !== 'string') {
    throw new Error(`oidc-provider code exchange answered ${exchanged.status}: ${JSON.stringify(body).slice(0, 300)}`)
  }
  return body.refresh_token
}

interface TokenResponse {
  access_token?: unknown
  refresh_token?: unknown
  token_type?: unknown
}

/**
 * One refresh at the peer (RFC 6749 §6) on `agent`'s keep-alive connections. Throws unless it
 * answered 200 with an ES256 `at+jwt` access token (RFC 9068) and a new refresh token, which it returns.
 */
export async function refreshOnce(peer: OidcProviderPeer, refreshToken: string, agent: Agent): Promise<string> {
  const { status, text } = await requestRefresh(peer, refreshToken, agent)
  // The body is an RFC 6749 §5.2 error ({error, error_description}): no token in it.
  if (status !== 200) throw new Error(`oidc-provider refresh answered ${status}: ${text.slice(0, 300)}`)
  const body = JSON.parse(text) as TokenResponse
  if (typeof body.refresh_token !== 'string' || body.refresh_token === refreshToken) {
    throw new Error('oidc-provider refresh answered 200 without a new refresh_token')
  }
  assertJwtAccessToken(body.access_token)
  return body.refresh_token
}

/**
 * One client-credentials grant (RFC 6749 §4.4) at the peer for its resource; throws unless it
 * answered 200 with an ES256 `at+jwt` access token.
 */
export async function clientCredentialsOnce(peer: OidcProviderPeer, agent: Agent): Promise<void> {
  const body = `grant_type=client_credentials&scope=${encodeURIComponent(RESOURCE_SCOPE)}&resource=${encodeURIComponent(peer.resource)}`
  const { status, text } = await postForm(agent, peer.tokenEndpoint, body, { Authorization: basicAuthorization(peer) })
  if (status !== 200) throw new Error(`oidc-provider client_credentials answered ${status}: ${text.slice(0, 300)}`)
  assertJwtAccessToken((JSON.parse(text) as TokenResponse).access_token)
}

function requestRefresh(peer: OidcProviderPeer, refreshToken: string, agent: Agent) {
  const body = `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}`
  return postForm(agent, peer.tokenEndpoint, body, { Authorization: basicAuthorization(peer) })
}

/** The header is enough: the point is that the peer signed an ES256 JWT, not an opaque handle. */
function assertJwtAccessToken(accessToken: unknown): void {
  if (typeof accessToken !== 'string' || accessToken.split('.').length !== 3) {
    throw new Error('oidc-provider refresh answered 200 without a JWT access token')
  }
  const header = JSON.parse(Buffer.from(accessToken.split('.')[0]!, 'base64url').toString('utf8')) as { alg?: unknown; typ?: unknown }
  if (header.alg !== 'ES256' || header.typ !== 'at+jwt') {
    throw new Error(`oidc-provider access token has alg ${String(header.alg)}, typ ${String(header.typ)}; expected ES256 at+jwt`)
  }
}

export interface ForkCount {
  /** Concurrent refreshes sent with the one token. */
  sent: number
  /** How many answered 200. */
  succeeded: number
  /** Distinct refresh tokens among those answers. */
  distinctSuccessors: number
  /** Successors that the peer still accepts afterwards (each refreshed once to find out). */
  liveSuccessors: number
  /** The refused presenters, by RFC 6749 §5.2 `error_description`. */
  refusals: Record<string, number>
}

/**
 * Sends `concurrency` refreshes with one refresh token at once and counts the successors that
 * come back and stay usable. A rotation that is atomic answers at most one of them with a new
 * token (or all with the same one, within a grace window); oidc-provider's reads the token,
 * checks `consumed`, then marks it in separate steps, so concurrent presenters all pass the check.
 * Consumes `refreshToken` and every successor.
 */
export async function countForkedSuccessors(peer: OidcProviderPeer, refreshToken: string, concurrency = 20): Promise<ForkCount> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  try {
    // Open every connection first, so the refreshes leave together instead of behind handshakes.
    await Promise.all(Array.from({ length: concurrency }, () => postForm(agent, `${peer.url}/token`, 'grant_type=none')))
    const answers = await Promise.all(Array.from({ length: concurrency }, () => requestRefresh(peer, refreshToken, agent)))
    const successors = new Set<string>()
    const refusals: Record<string, number> = {}
    let succeeded = 0
    for (const answer of answers) {
      const body = JSON.parse(answer.text) as TokenResponse & { error_description?: unknown }
      if (answer.status !== 200) {
        const reason = `${answer.status} ${String(body.error_description)}`
        refusals[reason] = (refusals[reason] ?? 0) + 1
        continue
      }
      succeeded++
      if (typeof body.refresh_token === 'string') successors.add(body.refresh_token)
    }
    let liveSuccessors = 0
    for (const successor of successors) {
      if ((await requestRefresh(peer, successor, agent)).status === 200) liveSuccessors++
    }
    return { sent: concurrency, succeeded, distinctSuccessors: successors.size, liveSuccessors, refusals }
  } finally {
    agent.destroy()
  }
}

// --- the comparison -------------------------------------------------------------------------

export interface PeerComparisonRow {
  concurrency: number
  /** CPU parties: `client` (load generator), `server` (the peer process), `postgres`. */
  peer: CellResult
  /** CPU parties: `client` (the postgres.js driver in this process), `postgres`. */
  physicalLimit: PhysicalLimitResult
}

export interface PeerComparison {
  rows: PeerComparisonRow[]
  statementsPerRefresh: { peer: StatementsPerRequest; physicalLimit: StatementsPerRequest }
  fork: ForkCount
  poolMax: number
  durationMs: number
}

export interface PeerComparisonOptions {
  /** The bench database; the peer and the physical limit each create their own table in it. */
  databaseUrl: string
  concurrencies?: number[]
  /** Measured time per cell, split into ROUNDS windows alternating peer and physical limit. */
  durationMs?: number
  /** Connections in the peer's pool and the physical limit's (default 10, as central's). */
  poolMax?: number
  /**
   * Processes under this one that are not PostgreSQL (e.g. an idle central), left out of the
   * PostgreSQL CPU, which is every other descendant of this process.
   */
  excludePids?: number[]
}

/**
 * Measures the peer's refresh and the physical limit at each concurrency on one PostgreSQL,
 * plus statements per refresh and the fork count, and returns the figures for the caller to
 * print beside portcullis'. Fails on any non-200 refresh or any chain that lost its row.
 */
export async function runPeerComparison(options: PeerComparisonOptions): Promise<PeerComparison> {
  const concurrencies = options.concurrencies ?? [1, 8, 32]
  const durationMs = options.durationMs ?? benchSecondsFromEnv() * 1000
  const poolMax = options.poolMax ?? 10
  const sql = postgres(options.databaseUrl, { max: poolMax, onnotice: () => {} })
  const peer = await startOidcProviderPeer({ databaseUrl: options.databaseUrl, poolMax })
  try {
    const postgresCpuMs = () => descendantsCpuMs(process.pid, [peer.pid, ...(options.excludePids ?? [])])
    const rows: PeerComparisonRow[] = []
    for (const concurrency of concurrencies) {
      const peerCell = await createPeerRefreshCell({ peer, concurrency, postgresCpuMs })
      const limit = await createPhysicalLimitCell({ sql, concurrency, postgresCpuMs })
      await peerCell.warmUp(WARMUP_MS)
      await limit.cell.warmUp(WARMUP_MS)
      for (let round = 0; round < ROUNDS; round++) {
        await peerCell.measure(durationMs / ROUNDS)
        await limit.cell.measure(durationMs / ROUNDS)
      }
      peerCell.close()
      await limit.assertChainsIntact()
      rows.push({ concurrency, peer: peerCell.result(), physicalLimit: { ...limit.cell.result(), roundTripsPerOp: 1, statementsPerOp: 1 } })
    }
    const [forkSeed] = await peer.seedRefreshTokens(1)
    const fork = await countForkedSuccessors(peer, forkSeed!)
    const statementsPerRefresh = {
      peer: await measureStatementsPerRequest({ databaseUrl: options.databaseUrl, start: (url) => startCountedPeer(url, poolMax) }),
      physicalLimit: await measureStatementsPerRequest({ databaseUrl: options.databaseUrl, start: startPhysicalLimitParty }),
    }
    return { rows, statementsPerRefresh, fork, poolMax, durationMs }
  } finally {
    await peer.stop()
    await sql.end({ timeout: 5 })
  }
}

/**
 * The peer's refresh at one concurrency as a measured cell (one seeded chain per worker, each
 * refreshed back to back with its latest token), so a caller can interleave its windows with
 * other modes'. CPU parties: `client` (this process), `server` (the peer), `postgres`.
 * `close()` drops its keep-alive connections once the caller is done measuring.
 */
export async function createPeerRefreshCell(options: {
  peer: OidcProviderPeer
  concurrency: number
  postgresCpuMs: () => number
}): Promise<MeasuredCell & { close(): void }> {
  const { peer, concurrency } = options
  const tokens = await peer.seedRefreshTokens(concurrency)
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const cell = new MeasuredCell(
    concurrency,
    () => ({ client: ownCpuMs(), server: processCpuMs(peer.pid), postgres: options.postgresCpuMs() }),
    async (worker) => {
      tokens[worker] = await refreshOnce(peer, tokens[worker]!, agent)
    },
  )
  return Object.assign(cell, { close: () => agent.destroy() })
}

/** A second peer whose database traffic goes through the statement counter; one chain, refreshed in turn. */
export async function startCountedPeer(proxiedDatabaseUrl: string, poolMax: number) {
  const peer = await startOidcProviderPeer({ databaseUrl: proxiedDatabaseUrl, poolMax })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  let [token] = await peer.seedRefreshTokens(1)
  return {
    request: async () => {
      token = await refreshOnce(peer, token!, agent)
    },
    stop: async () => {
      agent.destroy()
      await peer.stop()
    },
  }
}

/** Prints the comparison on its own (portcullis' central bench prints it beside its own rows). */
export function printPeerComparison(result: PeerComparison): void {
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`
  printTable(
    `refresh_token grant: oidc-provider (ES256 JWT access tokens, rotating) vs the physical limit (one compare-and-swap UPDATE)`,
    ['concurrency', 'peer req/s', 'p50 ms', 'p99 ms', 'limit req/s', 'limit p50 ms', 'peer/limit'],
    result.rows.map((row) => [
      String(row.concurrency),
      row.peer.latency.perSecond,
      row.peer.latency.p50Ms,
      row.peer.latency.p99Ms,
      row.physicalLimit.latency.perSecond,
      row.physicalLimit.latency.p50Ms,
      ratio(row.peer.latency.perSecond, row.physicalLimit.latency.perSecond),
    ]),
  )
  printTable(
    'CPU ms per refresh by process (client = load generator, or the postgres.js driver for the limit)',
    ['concurrency', 'mode', 'client', 'server', 'postgres'],
    result.rows.flatMap((row) => [
      [String(row.concurrency), 'oidc-provider', row.peer.cpuPerRequestMs.client!, row.peer.cpuPerRequestMs.server!, row.peer.cpuPerRequestMs.postgres!],
      [String(row.concurrency), 'physical limit', row.physicalLimit.cpuPerRequestMs.client!, '-', row.physicalLimit.cpuPerRequestMs.postgres!],
    ]),
  )
  const { peer, physicalLimit } = result.statementsPerRefresh
  printTable(
    'PostgreSQL work per refresh, counted on the wire',
    ['mode', 'statements', 'round trips'],
    [
      ['oidc-provider', peer.statementsPerRequest, peer.roundTripsPerRequest],
      ['physical limit', physicalLimit.statementsPerRequest, physicalLimit.roundTripsPerRequest],
    ],
  )
  console.log(`\n${describeFork(result.fork)}`)
}

/** The note the bench prints about the peer's rotation. */
export function describeFork(fork: ForkCount): string {
  const refused = Object.entries(fork.refusals).map(([reason, count]) => `${count}× ${reason}`)
  return (
    `note: oidc-provider's rotation is not atomic: ${fork.sent} concurrent refreshes with one token → ` +
    `${fork.succeeded} answered 200 with ${fork.distinctSuccessors} distinct successor refresh tokens (a forked chain)` +
    (refused.length ? `, refused: ${refused.join(', ')}` : '') +
    `; ${fork.liveSuccessors} of the successors still usable afterwards` +
    // Only revoking the grant removes every successor at once; the peer does that when a
    // presenter finds the token already consumed, i.e. arrived after the others' rotation.
    (fork.liveSuccessors === 0 && fork.distinctSuccessors > 0 && refused.length
      ? ' (a late presenter found the token consumed, which the peer treats as reuse: it revoked the whole grant)'
      : '') +
    '. A rotation settled by the database issues one successor.'
  )
}

function benchSecondsFromEnv(): number {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5)
  if (!(seconds > 0)) throw new Error(`BENCH_SECONDS must be a positive number, not ${process.env.BENCH_SECONDS}`)
  return seconds
}

/** Standalone: a quick comparison on a throwaway embedded PostgreSQL. */
async function runStandalone(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-peer-bench-'))
  const database = await startEmbeddedPostgres({ dataDir, persistent: false })
  try {
    const concurrencies = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number)
    const poolMax = Number(process.env.DATABASE_POOL_MAX ?? 10)
    console.log(`oidc-provider vs physical limit, pool ${poolMax}, ${benchSecondsFromEnv()} s per cell after ${WARMUP_MS / 1000} s warm-up`)
    printPeerComparison(await runPeerComparison({ databaseUrl: database.url, concurrencies, poolMax }))
    console.log('every measured refresh answered 200 with an ES256 JWT access token and a new refresh token')
  } finally {
    await database.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const run = process.argv.includes(SERVE_FLAG) ? serveOidcProvider : runStandalone
  run().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
