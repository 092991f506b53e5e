import { describe, expect, it } from 'vitest'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'

const SESSIONS_PER_ROUND = 100
const ROUNDS = 15

const central = useCentralTestApp()

async function insertLiveSessions(userId: string, count: number): Promise<void> {
  const now = central.t.clock()
  const later = new Date(now.getTime() + 3_600_000)
  await central.db.sql`
    insert into sessions (user_id, client_id, audiences, scopes, created_at, last_used_at, idle_expires_at, absolute_expires_at)
    select ${userId}, 'web', '{api}', '{read}', ${now}, ${now}, ${later}, ${later} from generate_series(1, ${count})`
}

const admin = (method: string, path: string, body?: unknown) =>
  central.t.app.request(path, {
    method,
    headers: { ...bearer(TEST_ADMIN_TOKEN), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

describe('revoke-all racing a disable of the same user', () => {
  it('never deadlocks: both answer 200, every session is revoked exactly once and the user ends disabled', async () => {
    const user = await insertTestUser(central.db.sql)
    for (let round = 0; round < ROUNDS; round++) {
      await insertLiveSessions(user.id, SESSIONS_PER_ROUND)
      const [revokeAll, disable] = await Promise.all([
        admin('DELETE', `/admin/users/${user.username}/sessions`),
        admin('PATCH', `/admin/users/${user.username}`, { enabled: false }),
      ])
      expect([revokeAll.status, disable.status]).toEqual([200, 200])
      const { revoked } = (await revokeAll.json()) as { revoked: number }
      const { sessions_revoked } = (await disable.json()) as { sessions_revoked: number }
      // Whichever ran first revoked them all; the other found none left.
      expect(revoked + sessions_revoked).toBe(SESSIONS_PER_ROUND)
      const [state] = await central.db.sql<{ live: number; enabled: boolean }[]>`
        select (select count(*)::int from sessions where user_id = u.id and revoked_at is null) as live, u.enabled
        from users u where u.id = ${user.id}`
      expect(state).toEqual({ live: 0, enabled: false })
      expect((await admin('PATCH', `/admin/users/${user.username}`, { enabled: true })).status).toBe(200)
    }
  })
})
