import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ISSUER, createSigningKey, signAccessToken, startJwksServer, type TestSigningKey } from '../support/edge-keys'
import { startOrigin } from '../support/edge-origin'
import { FEED_TOKEN, publishFeed, startFakeFeed } from '../support/fake-revocation-feed'
import { startEdge, type RunningEdge } from '../support/edge-worker'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(vars: Record<string, string> = {}, options: { feed?: boolean } = {}) {
  const key = await createSigningKey('key-1')
  const jwks = await startJwksServer([key.publicJwk])
  const origin = await startOrigin()
  const fake = await startFakeFeed()
  cleanups.push(() => jwks.close(), () => origin.close(), () => fake.close())
  const edge = await startEdge({
    ISSUER: TEST_ISSUER,
    JWKS_URL: jwks.url,
    CENTRAL_URL: origin.url,
    ROUTES: JSON.stringify([
      { prefix: '/api/', origin: origin.url, audience: 'demo-api' },
      { prefix: '/api/public/', origin: origin.url, public: true },
    ]),
    ...(options.feed === false ? {} : { EDGE_FEED_TOKEN: FEED_TOKEN, REVOCATION_FEED_URL: fake.url }),
    // Small interval so background polls happen within a test; the logic is the same at 5 s.
    REVOCATION_POLL_SECONDS: '0.2',
    REVOCATION_MAX_STALENESS_SECONDS: '1',
    ...vars,
  })
  cleanups.push(() => edge.dispose())
  return { edge, key, fake, origin }
}

const call = (edge: RunningEdge, token: string) => edge.fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } })
const tokenFor = (key: TestSigningKey, claims: Record<string, unknown>) => signAccessToken(key, claims)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Calls until the edge answers `status` (background polls need a request to trigger them). */
async function callUntil(edge: RunningEdge, token: string, status: number, giveUpMs = 5000): Promise<Response> {
  const started = Date.now()
  for (;;) {
    const response = await call(edge, token)
    if (response.status === status || Date.now() - started > giveUpMs) return response
    await response.body?.cancel()
    await sleep(50)
  }
}

function warnings(edge: RunningEdge): Record<string, unknown>[] {
  return edge.logs.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>
      return parsed.level === 'warn' || parsed.level === 'error' ? [parsed] : []
    } catch {
      return []
    }
  })
}

describe('revocation check at the edge', () => {
  it('rejects a token whose session is in the feed with 401 invalid_token, and serves other sessions', async () => {
    const { edge, key, fake } = await setup()
    publishFeed(fake, { sessions: [{ sid: 'sid-revoked', revoked_at: 1 }] })
    const revoked = await call(edge, await tokenFor(key, { sid: 'sid-revoked' }))
    expect(revoked.status).toBe(401)
    expect(await revoked.json()).toEqual({ error: 'invalid_token', error_description: 'access token has been revoked' })
    expect(revoked.headers.get('WWW-Authenticate')).toContain('error="invalid_token"')
    expect((await call(edge, await tokenFor(key, { sid: 'sid-live' }))).status).toBe(200)
  })

  it('rejects tokens issued before the user not-before time and accepts those issued at or after it', async () => {
    const { edge, key, fake } = await setup()
    const now = Math.floor(Date.now() / 1000)
    publishFeed(fake, { users: [{ sub: 'user-1', not_before: now }] })
    expect((await call(edge, await tokenFor(key, { sub: 'user-1', iat: now - 1 }))).status).toBe(401)
    expect((await call(edge, await tokenFor(key, { sub: 'user-1', iat: now }))).status).toBe(200)
    expect((await call(edge, await tokenFor(key, { sub: 'user-2', iat: now - 1 }))).status).toBe(200)
  })

  it('presents the feed secret and picks up a new revocation on a background poll', async () => {
    const { edge, key, fake } = await setup()
    const token = await tokenFor(key, { sid: 'sid-a' })
    expect((await call(edge, token)).status).toBe(200)
    publishFeed(fake, { sessions: [{ sid: 'sid-a', revoked_at: 1 }] })
    expect((await callUntil(edge, token, 401)).status).toBe(401)
    expect(fake.requests.every((headers) => headers.authorization === `Bearer ${FEED_TOKEN}`)).toBe(true)
  })

  it('polls with If-None-Match and keeps its copy when central answers 304', async () => {
    const { edge, key, fake } = await setup()
    publishFeed(fake, { sessions: [{ sid: 'sid-revoked', revoked_at: 1 }] })
    const revoked = await tokenFor(key, { sid: 'sid-revoked' })
    expect((await call(edge, revoked)).status).toBe(401)
    const live = await tokenFor(key, { sid: 'sid-live' })
    while (!fake.statuses.includes(304)) {
      expect((await call(edge, live)).status).toBe(200)
      await sleep(100)
    }
    expect(fake.requests.at(-1)?.['if-none-match']).toBe(`"${fake.feed.version}"`)
    expect((await call(edge, revoked)).status).toBe(401)
  })

  it('an isolate whose copy is older than REVOCATION_TRUST_SECONDS revalidates before answering its next request', async () => {
    const { edge, key, fake } = await setup({ REVOCATION_TRUST_SECONDS: '0.4' })
    const token = await tokenFor(key, { sid: 'sid-a' })
    expect((await call(edge, token)).status).toBe(200)
    publishFeed(fake, { sessions: [{ sid: 'sid-a', revoked_at: 1 }] })
    // Idle for longer than the trust age (0.4 s) but within max staleness (1 s): a plain
    // stale-while-revalidate would answer this first request from the old copy.
    await sleep(600)
    expect((await call(edge, token)).status).toBe(401)
  })

  it('keeps the last good copy when the feed answers garbage, and logs the failed poll', async () => {
    const { edge, key, fake } = await setup({ REVOCATION_MAX_STALENESS_SECONDS: '60' })
    publishFeed(fake, { sessions: [{ sid: 'sid-revoked', revoked_at: 1 }] })
    const revoked = await tokenFor(key, { sid: 'sid-revoked' })
    expect((await call(edge, revoked)).status).toBe(401)
    fake.mode = 'garbage'
    const polls = fake.requests.length
    while (fake.requests.length < polls + 2) {
      expect((await call(edge, revoked)).status).toBe(401)
      await sleep(100)
    }
    expect(warnings(edge).some((line) => line.msg === 'revocation feed poll failed; keeping last good copy')).toBe(true)
    expect((await call(edge, await tokenFor(key, { sid: 'sid-live' }))).status).toBe(200)
  })

  it('drops a revoked token from the verified-token cache', async () => {
    const { edge, key, fake } = await setup()
    const token = await tokenFor(key, { sid: 'sid-a' })
    expect((await call(edge, token)).status).toBe(200)
    expect((await call(edge, token)).status).toBe(200)
    expect(edge.requestLogs().at(-1)?.tokenCache).toBe('hit')
    publishFeed(fake, { sessions: [{ sid: 'sid-a', revoked_at: 1 }] })
    await callUntil(edge, token, 401)
    // Only a test feed can un-revoke; it shows the next request had to verify the signature again.
    publishFeed(fake, {})
    await callUntil(edge, token, 200)
    const accepted = edge.requestLogs().filter((line) => line.status === 200)
    expect(accepted.at(-1)?.tokenCache).toBe('miss')
  })

  it('fail-open: serves on the last good copy once it is too old, and warns at most once per interval', async () => {
    const { edge, key, fake } = await setup({ REVOCATION_FAILURE_MODE: 'fail-open' })
    publishFeed(fake, { sessions: [{ sid: 'sid-revoked', revoked_at: 1 }] })
    const live = await tokenFor(key, { sid: 'sid-live' })
    expect((await call(edge, live)).status).toBe(200)
    fake.mode = 'down'
    await sleep(1200)
    for (let i = 0; i < 5; i++) expect((await call(edge, live)).status).toBe(200)
    // The stale copy still knows what it knew.
    expect((await call(edge, await tokenFor(key, { sid: 'sid-revoked' }))).status).toBe(401)
    const unavailable = warnings(edge).filter((line) => String(line.msg).includes('(fail-open)'))
    expect(unavailable).toHaveLength(1)
    expect(unavailable[0]).toMatchObject({ reason: 'stale', maxStalenessSeconds: 1 })
    expect(edge.requestLogs().at(-2)?.revocationFeed).toBe('unavailable')
  })

  it('fail-closed: answers 503 on protected routes once the copy is too old, public routes unaffected, and recovers', async () => {
    const { edge, key, fake } = await setup({ REVOCATION_FAILURE_MODE: 'fail-closed' })
    const live = await tokenFor(key, { sid: 'sid-live' })
    expect((await call(edge, live)).status).toBe(200)
    fake.mode = 'down'
    await sleep(1200)
    const refused = await callUntil(edge, live, 503)
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(refused.headers.get('Retry-After')).toBe('1')
    expect((await edge.fetch('/api/public/status')).status).toBe(200)
    fake.mode = 'ok'
    expect((await callUntil(edge, live, 200)).status).toBe(200)
  })

  it('cold isolate with the feed down: fail-closed answers 503, fail-open serves', async () => {
    const closed = await setup({ REVOCATION_FAILURE_MODE: 'fail-closed' })
    closed.fake.mode = 'down'
    expect((await call(closed.edge, await tokenFor(closed.key, { sid: 's' }))).status).toBe(503)
    const open = await setup({ REVOCATION_FAILURE_MODE: 'fail-open' })
    open.fake.mode = 'down'
    expect((await call(open.edge, await tokenFor(open.key, { sid: 's' }))).status).toBe(200)
    expect(warnings(open.edge).some((line) => line.reason === 'never-loaded')).toBe(true)
  })

  it('without EDGE_FEED_TOKEN the feed is off: tokens are served and one warning per isolate says so', async () => {
    const { edge, key, fake } = await setup({}, { feed: false })
    const token = await tokenFor(key, { sid: 'sid-a' })
    for (let i = 0; i < 3; i++) expect((await call(edge, token)).status).toBe(200)
    expect(fake.requests).toHaveLength(0)
    expect(warnings(edge).filter((line) => String(line.msg).startsWith('revocation feed off'))).toHaveLength(1)
    expect(edge.requestLogs().at(-1)?.revocationFeed).toBe('off')
  })

  it('refuses to start fail-closed without EDGE_FEED_TOKEN (500, the variable named in the log)', async () => {
    const { edge, key } = await setup({ REVOCATION_FAILURE_MODE: 'fail-closed' }, { feed: false })
    expect((await call(edge, await tokenFor(key, { sid: 'sid-a' }))).status).toBe(500)
    expect(edge.logs.join('\n')).toContain('EDGE_FEED_TOKEN: is required when REVOCATION_FAILURE_MODE is \\"fail-closed\\"')
  })
})
