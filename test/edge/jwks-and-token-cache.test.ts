import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ISSUER, createSigningKey, signAccessToken, startJwksServer, type JwksServer } from '../support/edge-keys'
import { startOrigin, type TestOrigin } from '../support/edge-origin'
import { startEdge, type RunningEdge } from '../support/edge-worker'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(jwks: JwksServer | undefined, vars: Record<string, string> = {}): Promise<{ edge: RunningEdge; origin: TestOrigin }> {
  const origin = await startOrigin()
  cleanups.push(() => origin.close())
  const edge = await startEdge({
    ISSUER: TEST_ISSUER,
    ...(jwks ? { JWKS_URL: jwks.url } : {}),
    CENTRAL_URL: origin.url,
    ROUTES: JSON.stringify([{ prefix: '/api/', origin: origin.url, audience: 'demo-api' }]),
    ...vars,
  })
  cleanups.push(() => edge.dispose())
  return { edge, origin }
}

async function startJwks(...keys: Awaited<ReturnType<typeof createSigningKey>>[]): Promise<JwksServer> {
  const jwks = await startJwksServer(keys.map((key) => key.publicJwk))
  cleanups.push(() => jwks.close())
  return jwks
}

const call = (edge: RunningEdge, token: string) => edge.fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } })

describe('JWKS cache', () => {
  it('fetches the JWKS once and reuses the imported keys for every later token', async () => {
    const key = await createSigningKey('key-1')
    const jwks = await startJwks(key)
    const { edge } = await setup(jwks, { JWKS_REFETCH_COOLDOWN_SECONDS: '0' })
    for (let i = 0; i < 5; i++) expect((await call(edge, await signAccessToken(key))).status).toBe(200)
    expect(jwks.hits).toBe(1)
  })

  it('picks up a rotated key (new kid) after exactly one refetch', async () => {
    const oldKey = await createSigningKey('key-1')
    const newKey = await createSigningKey('key-2')
    const jwks = await startJwks(oldKey)
    const { edge } = await setup(jwks, { JWKS_REFETCH_COOLDOWN_SECONDS: '0' })
    expect((await call(edge, await signAccessToken(oldKey))).status).toBe(200)
    jwks.keys = [oldKey.publicJwk, newKey.publicJwk]
    expect((await call(edge, await signAccessToken(newKey))).status).toBe(200)
    expect(jwks.hits).toBe(2)
    // Both keys now verify without further fetches.
    expect((await call(edge, await signAccessToken(oldKey))).status).toBe(200)
    expect((await call(edge, await signAccessToken(newKey))).status).toBe(200)
    expect(jwks.hits).toBe(2)
  })

  it('refetches at most once per cooldown, however many unknown kids arrive', async () => {
    const key = await createSigningKey('key-1')
    const jwks = await startJwks(key)
    const { edge } = await setup(jwks, { JWKS_REFETCH_COOLDOWN_SECONDS: '3600' })
    expect((await call(edge, await signAccessToken(key))).status).toBe(200)
    for (let i = 0; i < 5; i++) {
      const stranger = await createSigningKey(`unknown-${i}`)
      const response = await call(edge, await signAccessToken(stranger))
      expect(response.status).toBe(401)
      expect(await response.json()).toMatchObject({ error: 'invalid_token', error_description: 'token is signed by an unknown key' })
    }
    expect(jwks.hits).toBe(1)
  })

  it.each(['down', 'garbage', 'slow'] as const)('keeps verifying with the cached keys when the JWKS is %s', async (mode) => {
    const key = await createSigningKey('key-1')
    const jwks = await startJwks(key)
    const { edge } = await setup(jwks, { JWKS_REFETCH_COOLDOWN_SECONDS: '0', JWKS_TIMEOUT_MS: '200' })
    expect((await call(edge, await signAccessToken(key))).status).toBe(200)
    jwks.mode = mode
    // An unknown kid forces a refetch, which fails…
    const stranger = await createSigningKey('key-2')
    expect((await call(edge, await signAccessToken(stranger))).status).toBe(401)
    expect(jwks.hits).toBe(2)
    // …and the keys from before still verify fresh (uncached) tokens.
    expect((await call(edge, await signAccessToken(key))).status).toBe(200)
  })

  it('answers 503 when no JWKS has ever been fetched and central is down', async () => {
    const key = await createSigningKey('key-1')
    const jwks = await startJwks(key)
    jwks.mode = 'down'
    const { edge, origin } = await setup(jwks)
    const response = await call(edge, await signAccessToken(key))
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(origin.requests).toHaveLength(0)
  })

  it('uses a static JWKS var instead of fetching, even with JWKS_URL set and an unknown kid', async () => {
    const key = await createSigningKey('static-1', 'EdDSA')
    const onlyAtTheUrl = await createSigningKey('fetched-1')
    const jwks = await startJwks(key, onlyAtTheUrl)
    const { edge } = await setup(jwks, { JWKS: JSON.stringify({ keys: [key.publicJwk] }) })
    expect((await call(edge, await signAccessToken(key))).status).toBe(200)
    // An unknown kid would make a fetching edge refetch (and then accept the token); this one does not.
    expect((await call(edge, await signAccessToken(onlyAtTheUrl))).status).toBe(401)
    expect(jwks.hits).toBe(0)
  })

  it('ignores JWKS entries that carry private key material', async () => {
    const key = await createSigningKey('key-1')
    const { exportJWK } = await import('jose')
    const privateJwk = { ...(await exportJWK(key.privateKey)), kid: 'key-1', alg: 'ES256' }
    const jwks = await startJwksServer([privateJwk])
    cleanups.push(() => jwks.close())
    const { edge } = await setup(jwks)
    // The only entry is unusable, so the edge has no keys at all.
    expect((await call(edge, await signAccessToken(key))).status).toBe(503)
  })
})

describe('verified-token cache', () => {
  it('verifies a token once and serves repeats of it from the cache', async () => {
    const key = await createSigningKey('key-1')
    const jwks = await startJwks(key)
    const { edge, origin } = await setup(jwks)
    const token = await signAccessToken(key)
    for (let i = 0; i < 3; i++) expect((await call(edge, token)).status).toBe(200)
    expect(origin.requests.map((request) => request.headers['x-portcullis-sub'])).toEqual(['user-123', 'user-123', 'user-123'])
    await expect.poll(() => edge.requestLogs().length).toBe(3)
    expect(edge.requestLogs().map((line) => line.tokenCache)).toEqual(['miss', 'hit', 'hit'])
  })

  it('still rejects a cached token once it has expired', async () => {
    const key = await createSigningKey('key-1')
    const jwks = await startJwks(key)
    const { edge } = await setup(jwks, { CLOCK_TOLERANCE_SECONDS: '0' })
    const now = Math.floor(Date.now() / 1000)
    const token = await signAccessToken(key, { iat: now, exp: now + 2 })
    expect((await call(edge, token)).status).toBe(200)
    expect((await call(edge, token)).status).toBe(200) // served from the cache
    while (Date.now() / 1000 < now + 3) await new Promise((resolve) => setTimeout(resolve, 200))
    const response = await call(edge, token)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_token', error_description: 'access token has expired' })
  })

  it('drops cached tokens whose key has left the JWKS', async () => {
    const oldKey = await createSigningKey('key-1')
    const newKey = await createSigningKey('key-2')
    const jwks = await startJwks(oldKey)
    const { edge } = await setup(jwks, { JWKS_REFETCH_COOLDOWN_SECONDS: '0' })
    const oldToken = await signAccessToken(oldKey)
    expect((await call(edge, oldToken)).status).toBe(200)
    expect((await call(edge, oldToken)).status).toBe(200) // cached
    // key-1 is withdrawn (e.g. compromised); the refetch triggered by key-2 sees it gone.
    jwks.keys = [newKey.publicJwk]
    expect((await call(edge, await signAccessToken(newKey))).status).toBe(200)
    const response = await call(edge, oldToken)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error_description: 'token is signed by an unknown key' })
  })

  it('drops cached tokens of a kid whose key was replaced under the same kid, and keeps the others', async () => {
    const unchangedKey = await createSigningKey('key-0')
    const oldKey = await createSigningKey('key-1')
    const replacement = await createSigningKey('key-1') // same kid, new key material
    const trigger = await createSigningKey('key-2')
    const jwks = await startJwks(unchangedKey, oldKey)
    const { edge } = await setup(jwks, { JWKS_REFETCH_COOLDOWN_SECONDS: '0' })
    const oldToken = await signAccessToken(oldKey)
    const unchangedToken = await signAccessToken(unchangedKey)
    expect((await call(edge, oldToken)).status).toBe(200)
    expect((await call(edge, oldToken)).status).toBe(200) // cached
    expect((await call(edge, unchangedToken)).status).toBe(200)
    // key-1 is replaced in place (e.g. compromised, re-issued under its kid); the refetch triggered
    // by key-2 sees it. The old token's kid is still published, but not the key that signed it.
    jwks.keys = [unchangedKey.publicJwk, replacement.publicJwk, trigger.publicJwk]
    expect((await call(edge, await signAccessToken(trigger))).status).toBe(200)
    expect(jwks.hits).toBe(2)
    const response = await call(edge, oldToken)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_token', error_description: 'token signature is invalid' })
    expect((await call(edge, await signAccessToken(replacement))).status).toBe(200)
    // A key that did not change keeps its tokens cached.
    expect((await call(edge, unchangedToken)).status).toBe(200)
    await expect.poll(() => edge.requestLogs().length).toBe(7)
    expect(edge.requestLogs().at(-1)).toMatchObject({ status: 200, tokenCache: 'hit' })
  })
})
