import { decodeJwt } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database'
import { ADMIN_TOKEN, AUDIENCE, callApi, createUser, ISSUER, measureUntilRejected, startWholeStack, type WholeStack } from './whole-stack'

/**
 * Machine clients through the whole stack: central (real server, PostgreSQL) behind the edge
 * Worker in workerd, oauth4webapi as the client, talking only to the edge's host. A disabled
 * client's or a rotated secret's earlier tokens must die at the edge within one poll plus a round
 * trip, as revoked sessions do.
 */
const POLL_SECONDS = 1
const BOUND_MS = POLL_SECONDS * 1000 + 1000
const EDGE = 'http://edge.test'

let db: TestDatabase
let stack: WholeStack

beforeAll(async () => {
  db = await createTestDatabase()
  // Clients address central through the edge: assertions and DPoP proofs name the edge's URLs.
  stack = await startWholeStack({ databaseUrl: db.url, centralEnv: { PUBLIC_URL: EDGE }, edgeVars: { REVOCATION_POLL_SECONDS: String(POLL_SECONDS) } })
})
afterAll(async () => {
  await stack?.close()
  await db?.drop()
})

const as: oauth.AuthorizationServer = { issuer: ISSUER, token_endpoint: `${EDGE}/oauth/token` }
const throughEdge = {
  [oauth.allowInsecureRequests]: true,
  [oauth.customFetch]: (url: string, init: RequestInit) => stack.edge.fetch(url, init),
}

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return await fetch(`${stack.central.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

let counter = 0
async function registerClient(extra: Record<string, unknown> = {}): Promise<{ clientId: string; secret: string }> {
  const clientId = `batch-${++counter}`
  const response = await admin('POST', '/admin/clients', {
    client_id: clientId,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    audiences: [AUDIENCE],
    scopes: ['read'],
    ...extra,
  })
  expect(response.status).toBe(201)
  return { clientId, secret: ((await response.json()) as { client_secret: string }).client_secret }
}

async function clientToken(clientId: string, secret: string, dpop?: oauth.DPoPHandle): Promise<oauth.TokenEndpointResponse> {
  const client: oauth.Client = { client_id: clientId }
  const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(secret), new URLSearchParams(), {
    ...throughEdge,
    ...(dpop ? { DPoP: dpop } : {}),
  })
  return await oauth.processClientCredentialsResponse(as, client, response)
}

async function tokenStatus(clientId: string, secret: string): Promise<number> {
  return await clientToken(clientId, secret).then(
    () => 200,
    (error: { status?: number }) => error.status ?? 0,
  )
}

describe('machine clients through the edge', () => {
  it('gets a client-credentials token at the edge host and calls the API as a machine', async () => {
    const { clientId, secret } = await registerClient()
    const tokens = await clientToken(clientId, secret)
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: clientId, client_id: clientId, aud: [AUDIENCE] })
    const call = await callApi(stack.edge, tokens.access_token)
    expect(call.status).toBe(200)
    const forwarded = stack.origin.requests.at(-1)!.headers
    expect(forwarded['x-portcullis-client-type']).toBe('machine')
    expect(forwarded['x-portcullis-sub']).toBe(clientId)
  })

  it('disabling a client refuses it at the token endpoint and its earlier token at the edge within the feed interval', async () => {
    const { clientId, secret } = await registerClient()
    const { access_token } = await clientToken(clientId, secret)
    expect((await callApi(stack.edge, access_token)).status).toBe(200)
    expect((await admin('POST', `/admin/clients/${clientId}/disable`)).status).toBe(200)
    expect(await tokenStatus(clientId, secret)).toBe(401)
    expect(await measureUntilRejected(stack.edge, access_token, { giveUpMs: BOUND_MS + 3000 })).toBeLessThanOrEqual(BOUND_MS)
  })

  it('rotating a secret refuses the old secret and the old tokens at the edge; the new secret works', async () => {
    const { clientId, secret } = await registerClient()
    const old = await clientToken(clientId, secret)
    const rotated = (await (await admin('POST', `/admin/clients/${clientId}/rotate-secret`)).json()) as { client_secret: string }
    expect(await tokenStatus(clientId, secret)).toBe(401)
    expect(await measureUntilRejected(stack.edge, old.access_token, { giveUpMs: BOUND_MS + 3000 })).toBeLessThanOrEqual(BOUND_MS)
    const fresh = await clientToken(clientId, rotated.client_secret)
    expect((await callApi(stack.edge, fresh.access_token)).status).toBe(200)
  })

  it('binds a token to a DPoP key at the edge host and accepts it only with proofs by that key', async () => {
    const { clientId, secret } = await registerClient({ require_dpop: true })
    const keyPair = await oauth.generateKeyPair('ES256')
    const dpop = oauth.DPoP({}, keyPair)
    const tokens = await clientToken(clientId, secret, dpop)
    expect(tokens.token_type).toBe('dpop')

    const api = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${EDGE}/api/me`), new Headers(), null, { ...throughEdge, DPoP: dpop })
    expect(api.status).toBe(200)
    expect(stack.origin.requests.at(-1)!.headers['x-portcullis-sender-constrained']).toBe('dpop')

    const asBearer = await callApi(stack.edge, tokens.access_token)
    expect(asBearer.status).toBe(401)
    expect(asBearer.wwwAuthenticate).toMatch(/^DPoP error="invalid_token"/)
  })
})

describe('a person\'s session bound to a DPoP key through the edge', () => {
  it('logs in with a proof, refreshes with the same key, and a refresh with another key is invalid_grant', async () => {
    await createUser(stack.central.url, 'dpop-user', 'correct horse battery staple')
    const keyPair = await oauth.generateKeyPair('ES256')
    const dpop = oauth.DPoP({}, keyPair)
    // oauth4webapi has no password login: its DPoP handle signs the proof for our /auth/login.
    const login = await oauth.protectedResourceRequest('unused', 'POST', new URL(`${EDGE}/auth/login`), new Headers({ 'Content-Type': 'application/json' }), JSON.stringify({ username: 'dpop-user', password: 'correct horse battery staple' }), { ...throughEdge, DPoP: dpop })
      .catch((error: unknown) => error)
    // protectedResourceRequest sends `Authorization: DPoP unused` and an `ath`; central ignores both at login.
    expect((login as Response).status).toBe(200)
    const started = (await (login as Response).json()) as { access_token: string; refresh_token: string; token_type: string }
    expect(started.token_type).toBe('DPoP')

    const client: oauth.Client = { client_id: 'web' }
    const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), started.refresh_token, { ...throughEdge, DPoP: dpop }))
    expect(refreshed.token_type).toBe('dpop')

    const thief = oauth.DPoP({}, await oauth.generateKeyPair('ES256'))
    const stolen = await oauth
      .refreshTokenGrantRequest(as, client, oauth.None(), refreshed.refresh_token!, { ...throughEdge, DPoP: thief })
      .then((response) => oauth.processRefreshTokenResponse(as, client, response))
      .catch((error: unknown) => error)
    expect(stolen).toMatchObject({ error: 'invalid_grant' })

    const api = await oauth.protectedResourceRequest(refreshed.access_token, 'GET', new URL(`${EDGE}/api/me`), new Headers(), null, { ...throughEdge, DPoP: dpop })
    expect(api.status).toBe(200)
  })
})
