import { describe, expect, it } from 'vitest'
import { createPool } from '../../../central/db/pool'
import { purgeEndedSessions } from '../../../central/sessions/store'
import { buildCentralApp, TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer, login, refresh } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'

// Session behaviours at the HTTP boundary, each pinned by its own test.

const PASSWORD = 'correct horse battery staple'
const central = useCentralTestApp({ env: { TRUST_PROXY: 'true', LOGIN_MAX_FAILURES_PER_USERNAME: '4' } })

async function signIn(headers: Record<string, string> = {}) {
  const user = await insertTestUser(central.db.sql, { password: PASSWORD })
  const response = await login(central.t, { username: user.username, password: PASSWORD }, headers)
  expect(response.status).toBe(200)
  const body = (await response.json()) as { access_token: string; refresh_token: string }
  return { user, ...body }
}

const eventsOf = (userId: string) =>
  central.db.sql<{ event_type: string; actor: string; reason: string | null; session_id: string | null; details: Record<string, unknown> }[]>`
    select event_type, actor, reason, session_id, details from audit_events where user_id = ${userId} order by id`

describe('session audit trail', () => {
  it('records created, refreshed and revoked for one session, with who, why and the device', async () => {
    const device = { 'User-Agent': 'phone/1.0', 'X-Forwarded-For': '203.0.113.7' }
    const s = await signIn(device)
    const rotated = await refresh(central.t, s.refresh_token, {}, { 'User-Agent': 'phone/1.1', 'X-Forwarded-For': '203.0.113.8' })
    expect(rotated.status).toBe(200)
    const { access_token } = (await rotated.json()) as { access_token: string }
    expect((await central.t.app.request('/auth/logout', { method: 'POST', headers: bearer(access_token) })).status).toBe(204)

    const events = await eventsOf(s.user.id)
    expect(events.map((e) => e.event_type)).toEqual(['session.created', 'session.refreshed', 'session.revoked'])
    const sessionIds = new Set(events.map((e) => e.session_id))
    expect(sessionIds.size).toBe(1)
    expect(events[0]).toMatchObject({ actor: 'user', details: { clientId: 'web', ip: '203.0.113.7', userAgent: 'phone/1.0' } })
    expect(events[1]).toMatchObject({ actor: 'user', details: { ip: '203.0.113.8', userAgent: 'phone/1.1' } })
    expect(events[2]).toMatchObject({ actor: 'user', reason: 'logout' })
  })

  it('records an admin revocation with the admin as actor and the given reason', async () => {
    const s = await signIn()
    const [session] = await central.db.sql<{ id: string }[]>`select id from sessions where user_id = ${s.user.id}`
    const response = await central.t.app.request(`/admin/sessions/${session!.id}?reason=laptop%20stolen`, { method: 'DELETE', headers: bearer(TEST_ADMIN_TOKEN) })
    expect(response.status).toBe(200)
    const revoked = (await eventsOf(s.user.id)).find((e) => e.event_type === 'session.revoked')
    expect(revoked).toMatchObject({ actor: expect.stringMatching(/^admin/), reason: 'laptop stolen', session_id: session!.id })
  })
})

describe('POST /admin/sessions for a disabled user', () => {
  it('answers 403 and starts no session, even though the caller vouches for the subject', async () => {
    const user = await insertTestUser(central.db.sql, { enabled: false })
    const response = await central.t.app.request('/admin/sessions', {
      method: 'POST',
      headers: { ...bearer(TEST_ADMIN_TOKEN), 'Content-Type': 'application/json' },
      body: JSON.stringify({ subject: user.username }),
    })
    expect(response.status).toBe(403)
    expect(await response.json()).not.toHaveProperty('access_token')
    expect(await central.db.sql`select 1 from sessions where user_id = ${user.id}`).toHaveLength(0)
  })
})

describe('nothing readable at rest', () => {
  it('keeps neither the presented nor the successor refresh token readable anywhere in the database after a rotation and a replay', async () => {
    const s = await signIn()
    const rotated = (await (await refresh(central.t, s.refresh_token)).json()) as { refresh_token: string }
    const replayed = (await (await refresh(central.t, s.refresh_token)).json()) as { refresh_token: string }
    expect(replayed.refresh_token).toBe(rotated.refresh_token)
    const dump = JSON.stringify([
      await central.db.sql`select * from legacy_refresh_tokens`,
      await central.db.sql`select * from sessions`,
      await central.db.sql`select * from audit_events`,
    ])
    for (const token of [s.refresh_token, rotated.refresh_token]) {
      expect(dump).not.toContain(token)
      expect(dump).not.toContain(Buffer.from(token).toString('hex'))
    }
  })
})

describe('admin revoke-all', () => {
  it("sets the user's not-before time, for the edge, along with ending every chain", async () => {
    const s = await signIn()
    const response = await central.t.app.request(`/admin/users/${s.user.username}/sessions`, { method: 'DELETE', headers: bearer(TEST_ADMIN_TOKEN) })
    expect(await response.json()).toEqual({ revoked: 1 })
    const [row] = await central.db.sql<{ not_before: Date | null }[]>`select not_before from users where id = ${s.user.id}`
    expect(row!.not_before?.getTime()).toBe(central.t.clock().getTime())
    expect((await refresh(central.t, s.refresh_token)).status).toBe(400)
  })
})

describe('retention purge', () => {
  it('purges sessions that expired (idle) before the cut-off, and keeps live ones', async () => {
    const expired = await signIn()
    central.t.clock.advance(central.t.config.REFRESH_IDLE_TTL_SECONDS + 1)
    const live = await signIn()
    const purged = await purgeEndedSessions(central.db.sql, { olderThan: central.t.clock() })
    expect(purged).toBeGreaterThanOrEqual(1)
    expect(await central.db.sql`select 1 from sessions where user_id = ${expired.user.id}`).toHaveLength(0)
    expect(await central.db.sql`select 1 from sessions where user_id = ${live.user.id}`).toHaveLength(1)
    expect((await refresh(central.t, live.refresh_token)).status).toBe(200)
  })
})

describe('state shared across central instances', () => {
  it('throttles a username by the failures made at every instance together', async () => {
    const otherPool = createPool(central.db.url)
    try {
      const other = await buildCentralApp(otherPool, { env: { LOGIN_MAX_FAILURES_PER_USERNAME: '4' }, clock: central.t.clock })
      const user = await insertTestUser(central.db.sql, { password: PASSWORD })
      const wrong = { username: user.username, password: 'wrong password' }
      // Two failures at each instance reach the limit of four.
      for (const app of [central.t, other, central.t, other]) expect((await login(app, wrong)).status).toBe(401)
      for (const app of [central.t, other]) {
        const throttled = await login(app, { username: user.username, password: PASSWORD })
        expect(throttled.status).toBe(429)
        expect(Number(throttled.headers.get('Retry-After'))).toBeGreaterThan(0)
      }
    } finally {
      await otherPool.end()
    }
  })
})
