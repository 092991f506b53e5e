import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listAuditEvents } from '../../../central/audit/store'
import { buildCentralApp, TEST_ADMIN_TOKEN, type CentralTestApp } from '../../support/central-app'
import { login } from '../../support/central-requests'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser, type TestUser } from '../../support/users'

const PASSWORD = 'known-user-password-Qx7'

let db: TestDatabase
let t: CentralTestApp
let known: TestUser

beforeAll(async () => {
  db = await createTestDatabase()
  t = await buildCentralApp(db.sql)
  known = await insertTestUser(db.sql, { username: 'known-user', password: PASSWORD })
})
afterAll(() => db.drop())

const failedLogins = () => listAuditEvents(db.sql, { type: 'user.login_failed', limit: 500 })

describe('audit of failed logins', () => {
  it('writes one login_failed event for an unknown username, as for a wrong password, so both do the same database work', async () => {
    const before = (await failedLogins()).length
    expect((await login(t, { username: known.username, password: 'a wrong password' })).status).toBe(401)
    const afterKnown = (await failedLogins()).length
    expect(afterKnown).toBe(before + 1)
    expect((await login(t, { username: 'no-such-user', password: 'a wrong password' })).status).toBe(401)
    expect((await failedLogins()).length).toBe(afterKnown + 1)
  })

  it('records an unknown username without the typed text, which may be a password', async () => {
    // Someone types their password into the username field.
    const typed = 'Tr0ub4dor&3-typed-in-the-wrong-field'
    expect((await login(t, { username: typed, password: 'whatever-else' })).status).toBe(401)
    const [event] = await failedLogins()
    expect(event).toMatchObject({ type: 'user.login_failed', actor: 'user', userId: null, username: null, reason: 'unknown_user' })
    expect(JSON.stringify(event)).not.toContain(typed)
    expect((await db.sql`select 1 from audit_events where details::text like ${`%${typed}%`} or reason like ${`%${typed}%`}`).length).toBe(0)
  })

  it('shows the event in the admin audit list with no user and the reason unknown_user', async () => {
    expect((await login(t, { username: 'another-stranger', password: 'whatever-else' })).status).toBe(401)
    const res = await t.app.request('/admin/audit?type=user.login_failed&limit=1', { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    expect(res.status).toBe(200)
    const { events } = (await res.json()) as { events: Record<string, unknown>[] }
    expect(events[0]).toMatchObject({ type: 'user.login_failed', user_id: null, username: null, reason: 'unknown_user' })
  })
})
