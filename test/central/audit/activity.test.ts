import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEventType } from '../../../central/audit/audit-event'
import { recordAuditEvent } from '../../../central/audit/store'
import { countRecentActivity, listHourlyActivity } from '../../../central/audit/store'
import { countActiveSessions } from '../../../central/sessions/store'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser } from '../../support/users'
import { insertLiveSession } from '../console/console-support'

const now = new Date('2026-11-24T12:30:00Z')
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000)

let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
  const user = await insertTestUser(db.sql)
  await insertLiveSession(db.sql, user.id, now)
  await insertLiveSession(db.sql, user.id, now)
  const event = (type: AuditEventType, at: Date, actor = 'user') => recordAuditEvent(db.sql, { type, at, actor, userId: user.id })
  await event('session.created', hoursAgo(0.1))
  await event('session.created', hoursAgo(2))
  await event('session.created', hoursAgo(2), 'admin:api') // minted by an admin: not a login
  await event('session.created', hoursAgo(30)) // outside the 24 hours
  await event('session.refreshed', hoursAgo(0.2))
  await event('session.refreshed', hoursAgo(0.3))
  await event('session.refreshed', hoursAgo(5))
  await event('session.reuse_detected', hoursAgo(5), 'system')
  await event('session.revoked', hoursAgo(1), 'admin:ops')
  await event('user.login_failed', hoursAgo(1))
  await event('session.refreshed', new Date(now.getTime() + 60_000)) // after "now": not counted
})
afterAll(() => db.drop())

describe('the activity the console overview shows', () => {
  it('counts active sessions now and each kind of event over the last 24 hours', async () => {
    expect(await countActiveSessions(db.sql, now)).toBe(2)
    expect(await countRecentActivity(db.sql, now)).toEqual({
      logins: 2,
      failedLogins: 1,
      refreshes: 3,
      reuseDetections: 1,
      revocations: 1,
    })
  })

  it('buckets the last 24 hours by hour, oldest first, with empty hours as zeros', async () => {
    const hours = await listHourlyActivity(db.sql, now)
    expect(hours).toHaveLength(24)
    expect(hours[23]!.hourStart.toISOString()).toBe('2026-11-24T12:00:00.000Z')
    expect(hours[0]!.hourStart.toISOString()).toBe('2026-11-23T13:00:00.000Z')
    expect(hours[23]).toMatchObject({ logins: 1, refreshes: 2, revocations: 0 })
    expect(hours[21]).toMatchObject({ logins: 1 }) // 10:30 → the 10:00 hour
    expect(hours[18]).toMatchObject({ refreshes: 1, reuseDetections: 1 }) // 07:30 → 07:00
    expect(hours[11]).toMatchObject({ logins: 0, refreshes: 0, revocations: 0, reuseDetections: 0 })
  })
})
