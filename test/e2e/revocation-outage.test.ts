import { afterEach, describe, expect, it } from 'vitest'
import { createTestDatabase } from '../support/database'
import type { RunningEdge } from '../support/edge-worker'
import { callApi, createUser, loginThroughEdge, measureUntilRejected, revokeSessionAsAdmin, startWholeStack, type SessionTokens } from './whole-stack'

/**
 * The feed goes away (a proxy between edge and central stops answering) while central keeps
 * running and keeps revoking. Poll 1 s, max staleness 2 s, so the outage outlives the copy. Each
 * case runs with the edge polling central directly and with the per-location hub in between.
 * After recovery, revocations apply within the design bound (REVOCATION_TRUST_SECONDS, 1.5 s).
 */
const POLL_SECONDS = 1
const MAX_STALENESS_SECONDS = 2
const BOUND_MS = 1500
const PASSWORD = 'correct horse battery staple'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(failureMode: 'fail-open' | 'fail-closed', hub: boolean) {
  const db = await createTestDatabase()
  cleanups.push(() => db.drop())
  const stack = await startWholeStack({
    databaseUrl: db.url,
    edgeVars: {
      REVOCATION_POLL_SECONDS: String(POLL_SECONDS),
      REVOCATION_MAX_STALENESS_SECONDS: String(MAX_STALENESS_SECONDS),
      REVOCATION_FAILURE_MODE: failureMode,
    },
    edgeOptions: { hub },
  })
  cleanups.push(() => stack.close())
  await createUser(stack.central.url, 'alice', PASSWORD)
  const kept = await loginThroughEdge(stack.edge, 'alice', PASSWORD)
  const revokedDuringOutage = await loginThroughEdge(stack.edge, 'alice', PASSWORD)
  expect((await callApi(stack.edge, kept.accessToken)).status).toBe(200)
  expect((await callApi(stack.edge, revokedDuringOutage.accessToken)).status).toBe(200)
  return { stack, kept, revokedDuringOutage }
}

/** Keeps traffic flowing (polls are triggered by requests) until the copy is older than max staleness. */
async function callThroughOutage(edge: RunningEdge, session: SessionTokens): Promise<number[]> {
  const statuses: number[] = []
  const until = Date.now() + MAX_STALENESS_SECONDS * 1000 + 1500
  while (Date.now() < until) {
    statuses.push((await callApi(edge, session.accessToken)).status)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return statuses
}

function warnings(edge: RunningEdge): string[] {
  return edge.logs.filter((line) => line.includes('"level":"warn"') || line.includes('"level":"error"'))
}

describe.each([
  ['polled directly', false],
  ['through the hub', true],
])('revocation feed outage, %s', (_, hub) => {
  it('fail-open keeps serving on the last copy, logs it, and picks up revocations made during the outage on recovery', async () => {
    const { stack, kept, revokedDuringOutage } = await setup('fail-open', hub)
    stack.feed.mode = 'down'
    await revokeSessionAsAdmin(stack.central.url, revokedDuringOutage.sid)

    const statuses = await callThroughOutage(stack.edge, kept)
    expect(new Set(statuses)).toEqual(new Set([200]))
    // The edge cannot know yet: that is what fail-open trades away.
    expect((await callApi(stack.edge, revokedDuringOutage.accessToken)).status).toBe(200)
    expect(warnings(stack.edge).some((line) => line.includes('poll failed'))).toBe(true)
    expect(warnings(stack.edge).some((line) => line.includes('(fail-open)'))).toBe(true)

    stack.feed.mode = 'up'
    const delayMs = await measureUntilRejected(stack.edge, revokedDuringOutage.accessToken, { giveUpMs: BOUND_MS + 3000 })
    expect(delayMs).toBeLessThanOrEqual(BOUND_MS)
    expect((await callApi(stack.edge, kept.accessToken)).status).toBe(200)
  })

  it('fail-closed answers 503 on protected routes once the copy is too old, keeps central routes open, and recovers with the outage revocations', async () => {
    const { stack, kept, revokedDuringOutage } = await setup('fail-closed', hub)
    stack.feed.mode = 'down'
    await revokeSessionAsAdmin(stack.central.url, revokedDuringOutage.sid)

    const statuses = await callThroughOutage(stack.edge, kept)
    expect(statuses[0]).toBe(200)
    expect(statuses.at(-1)).toBe(503)
    const refused = await callApi(stack.edge, kept.accessToken)
    expect(refused.status).toBe(503)
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'temporarily_unavailable' })
    // Public routes (here central's JWKS, forwarded by the edge) do not depend on the feed.
    expect((await stack.edge.fetch('/.well-known/jwks.json')).status).toBe(200)

    stack.feed.mode = 'up'
    const started = performance.now()
    while ((await callApi(stack.edge, kept.accessToken)).status !== 200) {
      expect(performance.now() - started).toBeLessThan(BOUND_MS + 3000)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const revoked = await callApi(stack.edge, revokedDuringOutage.accessToken)
    expect(revoked.status).toBe(401)
    expect(JSON.parse(revoked.body)).toMatchObject({ error: 'invalid_token', error_description: 'access token has been revoked' })
  })
})
