import { createHash, createHmac } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { base64url, createSigningKey, signAccessToken, startJwksServer, TEST_ISSUER, type JwksServer, type TestSigningKey } from '../support/edge-keys'
import { startOrigin, type TestOrigin } from '../support/edge-origin'
import { startEdge, type RunningEdge } from '../support/edge-worker'

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>

const BASE = 'http://edge.test'
let edge: RunningEdge
let origin: TestOrigin
let jwks: JwksServer
let signing: TestSigningKey
let clientKey: KeyPair
let jkt: string

beforeAll(async () => {
  signing = await createSigningKey('key-1')
  jwks = await startJwksServer([signing.publicJwk])
  origin = await startOrigin()
  edge = await startEdge({
    ISSUER: TEST_ISSUER,
    JWKS_URL: jwks.url,
    CENTRAL_URL: origin.url,
    ROUTES: JSON.stringify([
      { prefix: '/api/', origin: origin.url, audience: 'demo-api' },
      { prefix: '/api/payments/', origin: origin.url, audience: 'demo-api', dpop: 'required' },
      { prefix: '/api/public/', origin: origin.url, public: true },
    ]),
  })
  clientKey = await generateKeyPair('ES256', { extractable: true })
  jkt = await calculateJwkThumbprint((await exportJWK(clientKey.publicKey)) as JWK)
})
afterAll(async () => {
  await edge?.dispose()
  await origin?.close()
  await jwks?.close()
})
beforeEach(() => {
  origin.requests.length = 0
})

const boundToken = (claims: Record<string, unknown> = {}) => signAccessToken(signing, { cnf: { jkt }, ...claims })
const ath = (token: string) => createHash('sha256').update(token).digest('base64url')

/** A proof as RFC 9449 §4.2 describes it, with any header or claim changed for an attack case. */
async function proof(token: string, options: { claims?: Record<string, unknown>; header?: Record<string, unknown>; key?: KeyPair } = {}) {
  const key = options.key ?? clientKey
  const jwk = await exportJWK(key.publicKey)
  return await new SignJWT({ jti: crypto.randomUUID(), htm: 'GET', htu: `${BASE}/api/me`, iat: Math.floor(Date.now() / 1000), ath: ath(token), ...options.claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...options.header } as never)
    .sign(key.privateKey)
}

async function call(token: string, dpop: string | undefined, init: { path?: string; method?: string; scheme?: string } = {}) {
  const headers: Record<string, string> = { Authorization: `${init.scheme ?? 'DPoP'} ${token}` }
  if (dpop !== undefined) headers.DPoP = dpop
  return await edge.fetch(init.path ?? '/api/me', { method: init.method ?? 'GET', headers })
}

/** RFC 9449 §7.1: 401, the error in body and a `DPoP` challenge with the accepted algorithms, nothing forwarded. */
async function expectDpopRefusal(response: Response, error: 'invalid_dpop_proof' | 'invalid_token', description?: RegExp) {
  const body = (await response.json()) as { error: string; error_description: string }
  expect(response.status).toBe(401)
  expect(body.error).toBe(error)
  if (description) expect(body.error_description).toMatch(description)
  const challenge = response.headers.get('WWW-Authenticate') ?? ''
  expect(challenge).toMatch(new RegExp(`^DPoP error="${error}"`))
  expect(challenge).toContain('algs="ES256')
  expect(origin.requests).toHaveLength(0)
}

describe('a DPoP-bound token at the edge (RFC 9449 §7)', () => {
  it('forwards a request with a valid proof from oauth4webapi, with the sender-constrained and client-type headers', async () => {
    const token = await boundToken()
    const handle = oauth.DPoP({}, clientKey as never)
    const response = await oauth.protectedResourceRequest(token, 'GET', new URL(`${BASE}/api/me`), new Headers(), null, {
      DPoP: handle,
      [oauth.customFetch]: (url: string, init: RequestInit) => edge.fetch(url, init),
      [oauth.allowInsecureRequests]: true,
    })
    expect(response.status).toBe(200)
    const forwarded = origin.requests[0]!.headers
    expect(forwarded['x-portcullis-sender-constrained']).toBe('dpop')
    expect(forwarded['x-portcullis-client-type']).toBe('user')
    expect(forwarded['x-portcullis-sub']).toBe('user-123')
    expect(forwarded.authorization).toBeUndefined()
  })

  it('marks a client-credentials token (sub = client_id) as a machine client', async () => {
    const token = await boundToken({ sub: 'orders-batch', client_id: 'orders-batch', sid: 'client:orders-batch' })
    expect((await call(token, await proof(token))).status).toBe(200)
    expect(origin.requests[0]!.headers['x-portcullis-client-type']).toBe('machine')
  })

  it("marks a person's token whose client_id names the person's own id as a user, not a machine", async () => {
    const token = await boundToken({ sub: 'user-123', client_id: 'user-123' })
    expect((await call(token, await proof(token))).status).toBe(200)
    expect(origin.requests[0]!.headers['x-portcullis-client-type']).toBe('user')
  })

  it('refuses a proof signed by another key', async () => {
    const token = await boundToken()
    await expectDpopRefusal(await call(token, await proof(token, { key: await generateKeyPair('ES256') })), 'invalid_dpop_proof', /another key/)
  })

  it('refuses a replayed proof (same jti)', async () => {
    const token = await boundToken()
    const dpop = await proof(token)
    expect((await call(token, dpop)).status).toBe(200)
    origin.requests.length = 0
    await expectDpopRefusal(await call(token, dpop), 'invalid_dpop_proof', /used before/)
  })

  it('refuses a proof for another method', async () => {
    const token = await boundToken()
    await expectDpopRefusal(await call(token, await proof(token), { method: 'DELETE' }), 'invalid_dpop_proof', /method/)
  })

  it('refuses a proof for another URL', async () => {
    const token = await boundToken()
    await expectDpopRefusal(await call(token, await proof(token), { path: '/api/other' }), 'invalid_dpop_proof', /URL/)
  })

  it('refuses a proof for the same path on another host', async () => {
    const token = await boundToken()
    await expectDpopRefusal(await call(token, await proof(token, { claims: { htu: 'http://elsewhere.test/api/me' } })), 'invalid_dpop_proof', /URL/)
  })

  it('refuses a stale proof', async () => {
    const token = await boundToken()
    const iat = Math.floor(Date.now() / 1000) - 60 - 30 - 5
    await expectDpopRefusal(await call(token, await proof(token, { claims: { iat } })), 'invalid_dpop_proof', /too old/)
  })

  it('refuses a proof issued in the future', async () => {
    const token = await boundToken()
    const iat = Math.floor(Date.now() / 1000) + 30 + 5
    await expectDpopRefusal(await call(token, await proof(token, { claims: { iat } })), 'invalid_dpop_proof', /future/)
  })

  it('refuses a proof whose ath is the hash of another token', async () => {
    const token = await boundToken()
    const other = await boundToken()
    await expectDpopRefusal(await call(token, await proof(other)), 'invalid_dpop_proof', /ath/)
  })

  it('refuses a proof carrying a private key in jwk', async () => {
    const token = await boundToken()
    const privateJwk = await exportJWK(clientKey.privateKey)
    await expectDpopRefusal(await call(token, await proof(token, { header: { jwk: privateJwk } })), 'invalid_dpop_proof', /private key/)
  })

  it('refuses alg none', async () => {
    const token = await boundToken()
    const header = base64url(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: await exportJWK(clientKey.publicKey) }))
    const payload = base64url(JSON.stringify({ jti: 'j1', htm: 'GET', htu: `${BASE}/api/me`, iat: Math.floor(Date.now() / 1000), ath: ath(token) }))
    await expectDpopRefusal(await call(token, `${header}.${payload}.`), 'invalid_dpop_proof', /algorithm/)
  })

  it('refuses an HS256 proof', async () => {
    const token = await boundToken()
    const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: base64url('secret') } }))
    const payload = base64url(JSON.stringify({ jti: 'j2', htm: 'GET', htu: `${BASE}/api/me`, iat: Math.floor(Date.now() / 1000), ath: ath(token) }))
    const signature = createHmac('sha256', 'secret').update(`${header}.${payload}`).digest('base64url')
    await expectDpopRefusal(await call(token, `${header}.${payload}.${signature}`), 'invalid_dpop_proof', /algorithm/)
  })

  it('refuses a request with the DPoP scheme but no proof', async () => {
    const token = await boundToken()
    await expectDpopRefusal(await call(token, undefined), 'invalid_dpop_proof', /no DPoP proof/)
  })

  it('refuses a DPoP-bound token sent as a Bearer token, even with a valid proof', async () => {
    const token = await boundToken()
    await expectDpopRefusal(await call(token, await proof(token), { scheme: 'Bearer' }), 'invalid_token', /DPoP scheme/)
  })

  it('refuses a DPoP-bound token sent in the access-token cookie', async () => {
    const token = await boundToken()
    const response = await edge.fetch('/api/me', { headers: { Cookie: `portcullis_at=${token}`, DPoP: await proof(token) } })
    await expectDpopRefusal(response, 'invalid_token', /DPoP scheme/)
  })

  it('refuses the DPoP scheme with a token that is not bound', async () => {
    const token = await signAccessToken(signing)
    await expectDpopRefusal(await call(token, await proof(token)), 'invalid_token', /DPoP-bound/)
  })

  it('keeps serving unbound tokens as Bearer tokens, without the sender-constrained header', async () => {
    const token = await signAccessToken(signing)
    expect((await call(token, undefined, { scheme: 'Bearer' })).status).toBe(200)
    expect(origin.requests[0]!.headers['x-portcullis-sender-constrained']).toBeUndefined()
    expect(origin.requests[0]!.headers['x-portcullis-client-type']).toBe('user')
  })

  it('drops a client-sent sender-constrained header', async () => {
    const token = await signAccessToken(signing)
    const response = await edge.fetch('/api/me', { headers: { Authorization: `Bearer ${token}`, 'X-Portcullis-Sender-Constrained': 'dpop' } })
    expect(response.status).toBe(200)
    expect(origin.requests[0]!.headers['x-portcullis-sender-constrained']).toBeUndefined()
  })
})

describe('a route with "dpop": "required"', () => {
  it('answers a bearer token with 401 and a DPoP challenge', async () => {
    const token = await signAccessToken(signing)
    await expectDpopRefusal(await call(token, undefined, { scheme: 'Bearer', path: '/api/payments/1' }), 'invalid_token', /requires a DPoP-bound/)
  })

  it('forwards a bound token with a valid proof', async () => {
    const token = await boundToken()
    const dpop = await proof(token, { claims: { htu: `${BASE}/api/payments/1` } })
    expect((await call(token, dpop, { path: '/api/payments/1' })).status).toBe(200)
  })
})

describe('public routes', () => {
  it('keep a DPoP credential from the origin', async () => {
    const token = await boundToken()
    expect((await call(token, await proof(token), { path: '/api/public/x' })).status).toBe(200)
    expect(origin.requests[0]!.headers.authorization).toBeUndefined()
  })
})
