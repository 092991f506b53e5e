import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database'
import { unknownKidToken } from '../support/edge-keys'
import {
  AUDIENCE,
  ISSUER,
  callApi,
  createUser,
  loginThroughEdge,
  revokeSessionAsAdmin,
  rotateKeysAsAdmin,
  startWholeStack,
  type WholeStack,
} from './whole-stack'

/**
 * The whole stack with several edge isolates sharing their location's revocation hub: central
 * (real server, real PostgreSQL), the Worker in workerd (each isolate its own Worker, so its own
 * memory), an origin. Revocations and signing-key changes reach every isolate within the design
 * bound (REVOCATION_TRUST_SECONDS, 1.5 s), and only the hub polls central.
 */
const BOUND_MS = 1500
const ISOLATES = 3
const PASSWORD = 'correct horse battery staple'

let db: TestDatabase
let stack: WholeStack

beforeAll(async () => {
  db = await createTestDatabase()
  stack = await startWholeStack({ databaseUrl: db.url, edgeOptions: { hub: true, isolates: ISOLATES } })
  await createUser(stack.central.url, 'alice', PASSWORD)
})
afterAll(async () => {
  await stack?.close()
  await db?.drop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Calls isolate `isolate` until it answers `status`; the ms since `started`, failing past the bound plus a margin for the calls. */
async function msUntilStatus(token: string, status: number, isolate = 0, started = performance.now()): Promise<number> {
  for (;;) {
    if ((await callApi(stack.edge, token, isolate)).status === status) return performance.now() - started
    if (performance.now() - started > BOUND_MS + 3000) throw new Error(`isolate ${isolate} never answered ${status}`)
    await sleep(50)
  }
}


describe('revocation and key changes through the hub', () => {
  it('an isolate idle for longer than its poll answers its first request with 401 for a session revoked meanwhile', async () => {
    const session = await loginThroughEdge(stack.edge, 'alice', PASSWORD)
    for (let isolate = 0; isolate < ISOLATES; isolate++) expect((await callApi(stack.edge, session.accessToken, isolate)).status).toBe(200)
    await revokeSessionAsAdmin(stack.central.url, session.sid)
    await sleep(3000)
    for (let isolate = 0; isolate < ISOLATES; isolate++) expect((await callApi(stack.edge, session.accessToken, isolate)).status).toBe(401)
  })

  it('central sees only the hub polling, however many isolates serve traffic', async () => {
    const session = await loginThroughEdge(stack.edge, 'alice', PASSWORD)
    const pollsBefore = stack.feed.polls
    const hubPollsBefore = stack.feed.hubPolls
    const until = Date.now() + 2000
    while (Date.now() < until) {
      for (let isolate = 0; isolate < ISOLATES; isolate++) expect((await callApi(stack.edge, session.accessToken, isolate)).status).toBe(200)
      await sleep(50)
    }
    expect(stack.feed.polls - pollsBefore).toBeGreaterThan(0)
    expect(stack.feed.hubPolls - hubPollsBefore).toBe(stack.feed.polls - pollsBefore)
  })

  it('an immediate key rotation: a newly signed token is accepted within the bound, although an unknown kid armed the JWKS cooldown', async () => {
    const before = await loginThroughEdge(stack.edge, 'alice', PASSWORD)
    for (let isolate = 0; isolate < ISOLATES; isolate++) {
      expect((await callApi(stack.edge, before.accessToken, isolate)).status).toBe(200)
      expect((await callApi(stack.edge, await unknownKidToken({ iss: ISSUER, aud: AUDIENCE }), isolate)).status).toBe(401)
    }
    await rotateKeysAsAdmin(stack.central.url, { immediate: true })
    const rotatedAt = performance.now()
    const after = await loginThroughEdge(stack.edge, 'alice', PASSWORD)
    const isolates = Array.from({ length: ISOLATES }, (_, isolate) => isolate)
    const delays = await Promise.all(isolates.map((isolate) => msUntilStatus(after.accessToken, 200, isolate, rotatedAt)))
    for (const delayMs of delays) expect(delayMs).toBeLessThanOrEqual(BOUND_MS)
    // Without revokePrevious the old key stays published until its tokens expire.
    expect((await callApi(stack.edge, before.accessToken)).status).toBe(200)
  })

  it('revokePrevious: tokens signed by the earlier keys are refused within the bound; a refreshed session carries on', async () => {
    const old = await loginThroughEdge(stack.edge, 'alice', PASSWORD)
    for (let isolate = 0; isolate < ISOLATES; isolate++) expect((await callApi(stack.edge, old.accessToken, isolate)).status).toBe(200)
    await rotateKeysAsAdmin(stack.central.url, { immediate: true, revokePrevious: true })
    const rotatedAt = performance.now()
    const isolates = Array.from({ length: ISOLATES }, (_, isolate) => isolate)
    const delays = await Promise.all(isolates.map((isolate) => msUntilStatus(old.accessToken, 401, isolate, rotatedAt)))
    for (const delayMs of delays) expect(delayMs).toBeLessThanOrEqual(BOUND_MS)
    const fresh = await loginThroughEdge(stack.edge, 'alice', PASSWORD)
    expect(await msUntilStatus(fresh.accessToken, 200)).toBeLessThanOrEqual(BOUND_MS)
  })
})
