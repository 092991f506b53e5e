import { decodeProtectedHeader } from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPool } from '../../../central/db/pool'
import { buildCentralApp, TEST_ADMIN_TOKEN, type CentralTestApp } from '../../support/central-app'
import { bearer, login, refresh } from '../../support/central-requests'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser } from '../../support/users'

// Each test gets its own database: key state is global to a database.
let db: TestDatabase
let t: CentralTestApp
beforeEach(async () => {
  db = await createTestDatabase()
  t = await buildCentralApp(db.sql)
})
afterEach(() => db.drop())

const admin = (path: string, init: RequestInit = {}) =>
  t.app.request(path, { ...init, headers: { ...bearer(TEST_ADMIN_TOKEN), ...(init.headers as Record<string, string> | undefined) } })
const rotate = (query = '', body?: unknown) =>
  admin(`/admin/keys/rotate${query}`, {
    method: 'POST',
    ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  })
const keysByKid = async () => {
  const { keys } = (await (await admin('/admin/keys')).json()) as { keys: { kid: string; state: string; published: boolean }[] }
  return new Map(keys.map((k) => [k.kid, k]))
}
const jwksKids = async () => ((await (await t.app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)

async function signIn() {
  const password = 'correct horse battery staple'
  const { username } = await insertTestUser(db.sql, { password })
  const response = await login(t, { username, password })
  expect(response.status).toBe(200)
  return (await response.json()) as { access_token: string; refresh_token: string }
}

describe('POST /admin/keys/rotate — emergency rotation', () => {
  it('keeps the overlap path by default: the new key waits, the current one signs', async () => {
    const before = await signIn()
    const response = await rotate()
    expect(response.status).toBe(200)
    const body = (await response.json()) as { kid: string; activates_at: string }
    expect(new Date(body.activates_at).getTime()).toBe(t.clock().getTime() + t.config.KEY_PUBLISH_AHEAD_SECONDS * 1000)
    expect((await keysByKid()).get(body.kid)).toMatchObject({ state: 'next', published: true })
    const after = await signIn()
    expect(decodeProtectedHeader(after.access_token).kid).toBe(decodeProtectedHeader(before.access_token).kid)
  })

  it('with {"immediate": true} signs with the new key at once, and the old key\'s tokens still verify', async () => {
    const before = await signIn()
    const oldKid = decodeProtectedHeader(before.access_token).kid
    const response = await rotate('', { immediate: true })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { kid: string; activates_at: string; retired: { kid: string; unpublish_at: string }[] }
    expect(body.activates_at).toBe(t.clock().toISOString())
    expect(body.retired.map((k) => k.kid)).toEqual([oldKid])

    const keys = await keysByKid()
    expect(keys.get(body.kid)).toMatchObject({ state: 'active', published: true })
    expect(keys.get(oldKid!)).toMatchObject({ state: 'retired', published: true })
    expect(await jwksKids()).toEqual(expect.arrayContaining([body.kid, oldKid]))

    const after = await signIn()
    expect(decodeProtectedHeader(after.access_token).kid).toBe(body.kid)
    expect((await t.app.request('/auth/sessions', { headers: bearer(before.access_token) })).status).toBe(200)
  })

  it('accepts ?immediate=1 without a body, even while a scheduled key waits (no 409)', async () => {
    const scheduled = (await (await rotate()).json()) as { kid: string }
    expect((await rotate()).status).toBe(409)
    const response = await rotate('?immediate=1')
    expect(response.status).toBe(200)
    const body = (await response.json()) as { kid: string; activates_at: string }
    expect(body.activates_at).toBe(t.clock().toISOString())
    expect((await keysByKid()).get(scheduled.kid)).toMatchObject({ state: 'retired', published: false })
    expect(await jwksKids()).not.toContain(scheduled.kid)
  })

  it('with revokePrevious unpublishes the old key: its access tokens die, the session refreshes onto the new key', async () => {
    const before = await signIn()
    const oldKid = decodeProtectedHeader(before.access_token).kid
    const response = await rotate('', { immediate: true, revokePrevious: true })
    expect(response.status).toBe(200)
    const { kid } = (await response.json()) as { kid: string }

    expect(await jwksKids()).toEqual([kid])
    expect((await keysByKid()).get(oldKid!)).toMatchObject({ state: 'retired', published: false })
    const rejected = await t.app.request('/auth/sessions', { headers: bearer(before.access_token) })
    expect(rejected.status).toBe(401)
    expect(await rejected.json()).toMatchObject({ error: 'invalid_token' })

    // Sessions are not revoked: the refresh token still works and yields a token of the new key.
    const refreshed = await refresh(t, before.refresh_token)
    expect(refreshed.status).toBe(200)
    const pair = (await refreshed.json()) as { access_token: string }
    expect(decodeProtectedHeader(pair.access_token).kid).toBe(kid)
    expect((await t.app.request('/auth/sessions', { headers: bearer(pair.access_token) })).status).toBe(200)
  })

  it('accepts ?immediate=1&revokePrevious=1 as the query form', async () => {
    const before = await signIn()
    const response = await rotate('?immediate=1&revokePrevious=1')
    expect(response.status).toBe(200)
    expect(await jwksKids()).not.toContain(decodeProtectedHeader(before.access_token).kid)
  })

  it('refuses revokePrevious without immediate, changing nothing', async () => {
    const kidsBefore = await jwksKids()
    const response = await rotate('', { revokePrevious: true })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
    expect(await jwksKids()).toEqual(kidsBefore)
  })

  it('refuses unknown fields and non-boolean flags with invalid_request', async () => {
    for (const body of [{ immediat: true }, { immediate: 'yes' }]) {
      const response = await rotate('', body)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'invalid_request' })
    }
    const badQuery = await rotate('?immediate=true')
    expect(badQuery.status).toBe(400)
  })

  it('answers 415 for a body that is not JSON, rotating nothing', async () => {
    const kidsBefore = await jwksKids()
    const response = await admin('/admin/keys/rotate', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'immediate' })
    expect(response.status).toBe(415)
    expect(await response.json()).toMatchObject({ error: expect.any(String) })
    expect(await jwksKids()).toEqual(kidsBefore)
  })

  it('audits an emergency rotation with the admin as actor', async () => {
    await rotate('', { immediate: true, revokePrevious: true })
    const response = await admin('/admin/audit?type=key.unpublished')
    const { events } = (await response.json()) as { events: { actor: string; reason: string }[] }
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ actor: expect.stringMatching(/^admin/), reason: 'emergency rotation, previous keys revoked' })
  })

  it('another central instance publishes the new key in its JWKS at once, despite its key cache', async () => {
    const otherPool = createPool(db.url)
    try {
      const other = await buildCentralApp(otherPool, { clock: t.clock })
      const otherJwks = async () => ((await (await other.app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)
      const primed = await otherJwks() // fills the other instance's cache
      const { kid } = (await (await rotate('', { immediate: true })).json()) as { kid: string }
      expect(primed).not.toContain(kid)
      // An edge that meets the new kid refetches once per cooldown; it must find the key then.
      expect(await otherJwks()).toContain(kid)
    } finally {
      await otherPool.end()
    }
  })

  it('requires the admin token', async () => {
    const response = await t.app.request('/admin/keys/rotate?immediate=1', { method: 'POST' })
    expect(response.status).toBe(401)
    expect((await keysByKid()).size).toBe(1)
  })
})
