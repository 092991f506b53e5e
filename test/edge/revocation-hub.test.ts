import type { IncomingHttpHeaders } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ISSUER, createSigningKey, signAccessToken, startJwksServer, type TestSigningKey } from '../support/edge-keys'
import { startOrigin } from '../support/edge-origin'
import { FEED_TOKEN, publishFeed, startFakeFeed } from '../support/fake-revocation-feed'
import { startEdge, type EdgeOptions, type RunningEdge } from '../support/edge-worker'

/**
 * The per-location revocation hub (edge/revocation-hub.ts), a Durable Object in workerd: isolates
 * ask it, it alone polls central, and the isolates fall back to central when it fails.
 */

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(vars: Record<string, string> = {}, options: EdgeOptions = { hub: true }) {
  const key = await createSigningKey('key-1')
  const jwks = await startJwksServer([key.publicJwk])
  const origin = await startOrigin()
  const fake = await startFakeFeed({ keys_version: 'k0' })
  cleanups.push(() => jwks.close(), () => origin.close(), () => fake.close())
  const edge = await startEdge(
    {
      ISSUER: TEST_ISSUER,
      JWKS_URL: jwks.url,
      CENTRAL_URL: origin.url,
      ROUTES: JSON.stringify([{ prefix: '/api/', origin: origin.url, audience: 'demo-api' }]),
      EDGE_FEED_TOKEN: FEED_TOKEN,
      REVOCATION_FEED_URL: fake.url,
      REVOCATION_POLL_SECONDS: '0.3',
      REVOCATION_TRUST_SECONDS: '0.6',
      REVOCATION_MAX_STALENESS_SECONDS: '2',
      REVOCATION_HUB_POLL_MS: '150',
      REVOCATION_HUB_TIMEOUT_MS: '300',
      REVOCATION_TIMEOUT_MS: '500',
      ...vars,
    },
    options,
  )
  cleanups.push(() => edge.dispose())
  return { edge, key, fake, jwks }
}

const call = (edge: RunningEdge, token: string, isolate = 0) => edge.fetchVia(isolate, '/api/me', { headers: { Authorization: `Bearer ${token}` } })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const fromHub = (headers: IncomingHttpHeaders) => headers['portcullis-revocation-hub'] === '1'

async function statusOf(edge: RunningEdge, token: string, isolate = 0): Promise<number> {
  const response = await call(edge, token, isolate)
  await response.body?.cancel()
  return response.status
}

/** Module that binds REVOCATION_HUB to a hub that fails every ask, or never answers one. */
function brokenHub(kind: 'throws' | 'hangs'): { script: string; className: string } {
  const body = kind === 'throws' ? `throw new Error('hub is broken')` : `return new Promise(() => {})`
  return {
    className: 'BrokenHub',
    script: `import { DurableObject } from 'cloudflare:workers'
export class BrokenHub extends DurableObject { fetch() { ${body} } }
export default { fetch() { return new Response('hub host') } }`,
  }
}

describe('revocation hub (one Durable Object per location)', () => {
  it('several isolates share one hub: central sees only the hub polling, and every isolate rejects a revoked session', async () => {
    const { edge, key, fake } = await setup({}, { hub: true, isolates: 3 })
    const token = await signAccessToken(key, { sid: 'sid-a' })
    for (let isolate = 0; isolate < 3; isolate++) expect(await statusOf(edge, token, isolate)).toBe(200)
    publishFeed(fake, { sessions: [{ sid: 'sid-a', revoked_at: 1 }] })
    // Idle past the trust age: each isolate's first request afterwards is answered from a fresh copy.
    await sleep(700)
    for (let isolate = 0; isolate < 3; isolate++) expect(await statusOf(edge, token, isolate)).toBe(401)
    expect(fake.requests.length).toBeGreaterThan(0)
    expect(fake.requests.every(fromHub)).toBe(true)
  })

  it('an isolate idle longer than the poll answers its first request from a fresh copy (401 for a session revoked meanwhile)', async () => {
    const { edge, key, fake } = await setup()
    const token = await signAccessToken(key, { sid: 'sid-idle' })
    expect(await statusOf(edge, token)).toBe(200)
    publishFeed(fake, { sessions: [{ sid: 'sid-idle', revoked_at: 1 }] })
    await sleep(1000)
    expect(await statusOf(edge, token)).toBe(401)
  })

  it('stops polling central once no isolate asked for REVOCATION_HUB_IDLE_SECONDS, and starts again on the next ask', async () => {
    const { edge, key, fake } = await setup({ REVOCATION_HUB_IDLE_SECONDS: '0.5' })
    const token = await signAccessToken(key, { sid: 'sid-b' })
    expect(await statusOf(edge, token)).toBe(200)
    await sleep(1500)
    const pollsWhenIdle = fake.requests.length
    await sleep(1000)
    expect(fake.requests.length).toBe(pollsWhenIdle)
    publishFeed(fake, { sessions: [{ sid: 'sid-b', revoked_at: 1 }] })
    expect(await statusOf(edge, token)).toBe(401)
    expect(fake.requests.length).toBeGreaterThan(pollsWhenIdle)
  })

  it('a key set version change refetches the JWKS at once, although an unknown kid armed the refetch cooldown', async () => {
    const { edge, key, fake, jwks } = await setup({ JWKS_REFETCH_COOLDOWN_SECONDS: '600' })
    expect(await statusOf(edge, await signAccessToken(key, { sid: 's1' }))).toBe(200)
    const rotated = await createSigningKey('key-2')
    // The new key signs before this isolate has it: its refetch now arms the cooldown.
    const early = await signAccessToken(rotated, { sid: 's2' })
    expect(await statusOf(edge, early)).toBe(401)
    jwks.keys = [rotated.publicJwk]
    publishFeed(fake, { keys_version: 'k1' })
    const started = Date.now()
    while ((await statusOf(edge, early)) !== 200) {
      expect(Date.now() - started).toBeLessThan(1500)
      await sleep(50)
    }
    // The old key left the set with the same refetch: its tokens stop verifying.
    expect(await statusOf(edge, await signAccessToken(key, { sid: 's3' }))).toBe(401)
  })

  it.each(['throws', 'hangs'] as const)('a hub that %s: isolates poll central directly, revocations still apply, no request hangs', async (kind) => {
    const { edge, key, fake } = await setup({}, { hub: brokenHub(kind) })
    publishFeed(fake, { sessions: [{ sid: 'sid-revoked', revoked_at: 1 }] })
    expect(await statusOf(edge, await signAccessToken(key, { sid: 'sid-revoked' }))).toBe(401)
    expect(await statusOf(edge, await signAccessToken(key, { sid: 'sid-live' }))).toBe(200)
    expect(fake.requests.some((headers) => !fromHub(headers))).toBe(true)
    expect(edge.logs.some((line) => line.includes('revocation hub failed; polling central directly'))).toBe(true)
  })

  it('central down behind the hub, fail-open: serves on the last copy once stale, warns, and applies revocations on recovery', async () => {
    const { edge, key, fake } = await setup({ REVOCATION_FAILURE_MODE: 'fail-open' })
    const live = await signAccessToken(key, { sid: 'sid-live' })
    const doomed = await signAccessToken(key, { sid: 'sid-doomed' })
    expect(await statusOf(edge, live)).toBe(200)
    fake.mode = 'hang'
    publishFeed(fake, { sessions: [{ sid: 'sid-doomed', revoked_at: 1 }] })
    await sleep(2200)
    for (let i = 0; i < 5; i++) expect(await statusOf(edge, live)).toBe(200)
    expect(edge.requestLogs().at(-1)?.revocationFeed).toBe('unavailable')
    expect(edge.logs.some((line) => line.includes('(fail-open)'))).toBe(true)
    fake.mode = 'ok'
    const started = Date.now()
    while ((await statusOf(edge, doomed)) !== 401) {
      expect(Date.now() - started).toBeLessThan(3000)
      await sleep(100)
    }
  })

  it('central down behind the hub, fail-closed: 503 once the copy is too old, and service resumes when central is back', async () => {
    const { edge, key, fake } = await setup({ REVOCATION_FAILURE_MODE: 'fail-closed' })
    const live = await signAccessToken(key, { sid: 'sid-live' })
    expect(await statusOf(edge, live)).toBe(200)
    fake.mode = 'down'
    await sleep(2200)
    const refused = await call(edge, live)
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' })
    fake.mode = 'ok'
    const started = Date.now()
    while ((await statusOf(edge, live)) !== 200) {
      expect(Date.now() - started).toBeLessThan(3000)
      await sleep(100)
    }
  })

  it('cold isolate, central down: the hub answers at once that it has no copy, fail-closed 503 and fail-open 200', async () => {
    const closed = await setup({ REVOCATION_FAILURE_MODE: 'fail-closed' })
    closed.fake.mode = 'down'
    expect(await statusOf(closed.edge, await signAccessToken(closed.key, { sid: 's' }))).toBe(503)
    expect(closed.fake.requests.every(fromHub)).toBe(true)
    const open = await setup({ REVOCATION_FAILURE_MODE: 'fail-open' })
    open.fake.mode = 'hang'
    expect(await statusOf(open.edge, await signAccessToken(open.key, { sid: 's' }))).toBe(200)
  })
})
