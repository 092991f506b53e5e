import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeJwt } from 'jose'
import { loadConfig } from '../../central/config'
import { startCentral, type RunningCentral } from '../../central/main'
import { startOrigin, type TestOrigin } from '../support/edge-origin'
import { startEdge, type EdgeOptions, type RunningEdge } from '../support/edge-worker'

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef'
export const EDGE_FEED_TOKEN = 'e2e-edge-feed-token-0123456789abcdef'
export const ISSUER = 'http://central.e2e.test'
export const AUDIENCE = 'demo-api'

/** What the feed proxy does with the edge's polls: relay to central, refuse, or answer junk. */
export type FeedProxyMode = 'up' | 'down' | 'garbage'

/**
 * A switchable stand-in for the network between edge and central's feed, so a test can take the
 * feed away from the edge while central itself keeps running (and keeps revoking).
 */
export interface FeedProxy {
  url: string
  mode: FeedProxyMode
  /** Polls that reached the proxy, and how central answered those that were relayed. */
  polls: number
  /** Of those, the polls made by a revocation hub (the rest came from isolates directly). */
  hubPolls: number
  statuses: number[]
  close(): Promise<void>
}

export async function startFeedProxy(targetBaseUrl: () => string): Promise<FeedProxy> {
  const proxy: FeedProxy = { url: '', mode: 'up', polls: 0, hubPolls: 0, statuses: [], close: async () => {} }
  const server: Server = createServer((request, response) => {
    proxy.polls++
    if (request.headers['portcullis-revocation-hub']) proxy.hubPolls++
    if (proxy.mode === 'down') {
      request.socket.destroy()
      return
    }
    if (proxy.mode === 'garbage') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end('{"version":"x","sessions":"not a list"}')
      return
    }
    const headers: Record<string, string> = {}
    for (const name of ['authorization', 'if-none-match']) {
      const value = request.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    fetch(new URL(request.url ?? '/', targetBaseUrl()), { headers }).then(
      async (upstream) => {
        proxy.statuses.push(upstream.status)
        const body = Buffer.from(await upstream.arrayBuffer())
        const relayed: Record<string, string> = {}
        for (const name of ['content-type', 'etag', 'cache-control']) {
          const value = upstream.headers.get(name)
          if (value) relayed[name] = value
        }
        response.writeHead(upstream.status, relayed)
        response.end(upstream.status === 304 ? undefined : body)
      },
      () => request.socket.destroy(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return proxy
}

export interface WholeStack {
  central: RunningCentral
  edge: RunningEdge
  origin: TestOrigin
  feed: FeedProxy
  close(): Promise<void>
}

/**
 * central (its real `startCentral`, on `databaseUrl`) + a recording origin + the edge Worker in
 * workerd, whose revocation feed goes through a switchable proxy to central.
 */
export async function startWholeStack(options: {
  databaseUrl: string
  centralEnv?: Record<string, string>
  edgeVars?: Record<string, string>
  /** The revocation hub and the number of isolates; default: one isolate polling central directly. */
  edgeOptions?: EdgeOptions
}): Promise<WholeStack> {
  const central = await startCentral(
    loadConfig({
      DATABASE_URL: options.databaseUrl,
      PORT: '0',
      ISSUER,
      ADMIN_TOKEN,
      EDGE_FEED_TOKEN,
      REFRESH_GRACE_SECONDS: '1',
      COOKIE_SECURE: 'false',
      ...options.centralEnv,
    }),
    () => {},
  )
  const origin = await startOrigin()
  const feed = await startFeedProxy(() => central.url)
  const edge = await startEdge({
    ISSUER,
    JWKS_URL: `${central.url}/.well-known/jwks.json`,
    CENTRAL_URL: central.url,
    ROUTES: JSON.stringify([{ prefix: '/api/', origin: origin.url, audience: AUDIENCE }]),
    EDGE_FEED_TOKEN,
    REVOCATION_FEED_URL: `${feed.url}/edge/revocations`,
    ...options.edgeVars,
  }, options.edgeOptions)
  return {
    central,
    edge,
    origin,
    feed,
    close: async () => {
      await edge.dispose()
      await feed.close()
      await origin.close()
      await central.stop()
    },
  }
}

const adminHeaders = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' }

/** `POST /admin/users` on central; the user may call the `demo-api` audience. */
export async function createUser(centralUrl: string, username: string, password: string): Promise<string> {
  const response = await fetch(`${centralUrl}/admin/users`, {
    method: 'POST',
    headers: adminHeaders,
    body: JSON.stringify({ username, password, audiences: [AUDIENCE], scopes: ['read'], roles: [] }),
  })
  if (response.status !== 201 && response.status !== 200) throw new Error(`create user answered ${response.status}: ${await response.text()}`)
  return ((await response.json()) as { id: string }).id
}

export interface SessionTokens {
  accessToken: string
  refreshToken: string
  sid: string
  sub: string
}

function toSessionTokens(body: { access_token?: string; refresh_token?: string }): SessionTokens {
  if (!body.access_token || !body.refresh_token) throw new Error('token response without tokens')
  const claims = decodeJwt(body.access_token)
  return { accessToken: body.access_token, refreshToken: body.refresh_token, sid: String(claims.sid), sub: String(claims.sub) }
}

/** `POST /auth/login` through the edge (forwarded to central). */
export async function loginThroughEdge(edge: RunningEdge, username: string, password: string): Promise<SessionTokens> {
  const response = await edge.fetch('/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (response.status !== 200) throw new Error(`login answered ${response.status}: ${await response.text()}`)
  return toSessionTokens((await response.json()) as never)
}

/** `POST /oauth/token` refresh grant through the edge; returns the raw response. */
export function refreshThroughEdge(edge: RunningEdge, refreshToken: string): Promise<Response> {
  return edge.fetch('/oauth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  })
}

export async function parseTokenResponse(response: Response): Promise<SessionTokens> {
  if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`)
  return toSessionTokens((await response.json()) as never)
}

/** `POST /admin/sessions`: a token pair without a password login (no argon2 per session). */
export async function issueSessionAsAdmin(centralUrl: string, subject: string): Promise<SessionTokens> {
  const response = await fetch(`${centralUrl}/admin/sessions`, {
    method: 'POST',
    headers: adminHeaders,
    body: JSON.stringify({ subject, audiences: [AUDIENCE], scopes: ['read'], roles: [] }),
  })
  if (response.status !== 200 && response.status !== 201) throw new Error(`admin session answered ${response.status}: ${await response.text()}`)
  return toSessionTokens((await response.json()) as never)
}

/** `DELETE /admin/sessions/:id` on central. */
export async function revokeSessionAsAdmin(centralUrl: string, sid: string): Promise<void> {
  const response = await fetch(`${centralUrl}/admin/sessions/${sid}`, { method: 'DELETE', headers: adminHeaders })
  if (response.status >= 300) throw new Error(`admin revoke answered ${response.status}: ${await response.text()}`)
  await response.body?.cancel()
}

/** A protected call through the edge (isolate `isolate` when it runs several); returns the response (body read). */
export async function callApi(
  edge: RunningEdge,
  accessToken: string,
  isolate = 0,
): Promise<{ status: number; body: string; wwwAuthenticate: string | null }> {
  const response = await edge.fetchVia(isolate, '/api/me', { headers: { Authorization: `Bearer ${accessToken}` } })
  return { status: response.status, body: await response.text(), wwwAuthenticate: response.headers.get('WWW-Authenticate') }
}

/** `POST /admin/keys/rotate` on central: `immediate` signs with the new key now, `revokePrevious` unpublishes the others. */
export async function rotateKeysAsAdmin(centralUrl: string, options: { immediate?: boolean; revokePrevious?: boolean } = {}): Promise<string> {
  const response = await fetch(`${centralUrl}/admin/keys/rotate`, { method: 'POST', headers: adminHeaders, body: JSON.stringify(options) })
  if (response.status !== 200) throw new Error(`key rotation answered ${response.status}: ${await response.text()}`)
  return ((await response.json()) as { kid: string }).kid
}

/**
 * Calls the edge with `accessToken` every `intervalMs` until it answers 401; returns the ms
 * from the start of the wait (call it right after the revocation committed) to that answer.
 */
export async function measureUntilRejected(edge: RunningEdge, accessToken: string, options: { intervalMs?: number; giveUpMs: number }): Promise<number> {
  const started = performance.now()
  for (;;) {
    const { status } = await callApi(edge, accessToken)
    const elapsed = performance.now() - started
    if (status === 401) return elapsed
    if (status !== 200) throw new Error(`edge answered ${status} while waiting for the revocation`)
    if (elapsed > options.giveUpMs) throw new Error(`token still accepted ${Math.round(elapsed)} ms after its revocation`)
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100))
  }
}
