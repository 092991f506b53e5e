import { describe, expect, it } from 'vitest'
import { startSession } from '../../../central/sessions/start-session'
import { revokeAllUserSessions } from '../../../central/sessions/store'
import { updateUser } from '../../../central/users/store'
import { useCentralTestApp } from '../../support/central-app'
import { login } from '../../support/central-requests'
import { waitsForALock } from '../../support/row-locks'
import { insertTestUser } from '../../support/users'

const PASSWORD = 'correct horse battery staple'

const central = useCentralTestApp()

/**
 * Disables the user the way changeUser does (users row `for update`, then revoke every session),
 * but starts `sessionStart` between the two steps and lets it reach its lock wait first. That is
 * the interleaving of a login whose `enabled` check passed just before an admin's disable.
 */
async function disableWhile<T>(username: string, sessionStart: () => Promise<T>): Promise<T> {
  let started!: Promise<T>
  await central.db.sql.begin(async (tx) => {
    const updated = await updateUser(tx, username, { enabled: false }, 'admin:test', central.t.clock())
    started = sessionStart()
    await expect.poll(() => waitsForALock(central.db.sql), { timeout: 10_000 }).toBe(true)
    await revokeAllUserSessions(tx, { userId: updated!.user.id, actor: 'admin:test', reason: 'user disabled', now: central.t.clock() })
  })
  return started
}

const liveSessions = (userId: string) => central.db.sql`select id from sessions where user_id = ${userId} and revoked_at is null`

describe('a session start racing a disable of its user', () => {
  it('refuses a login whose password check passed before the disable committed, as it refuses any disabled user, and leaves no live session', async () => {
    const user = await insertTestUser(central.db.sql, { password: PASSWORD })
    const raced = await disableWhile(user.username, () => login(central.t, { username: user.username, password: PASSWORD }))
    expect(await liveSessions(user.id)).toHaveLength(0)
    const afterwards = await login(central.t, { username: user.username, password: PASSWORD })
    expect(raced.status).toBe(401)
    expect(await raced.json()).toEqual(await afterwards.json())
    expect(afterwards.status).toBe(401)
  })

  it('refuses a vouched session start (what POST /admin/sessions answers 403) when the user was disabled after the caller\'s check', async () => {
    const user = await insertTestUser(central.db.sql)
    // What POST /admin/sessions does once it has seen the subject enabled.
    const raced = await disableWhile(user.username, () => startSession(central.t.deps, { user, method: { kind: 'vouched' }, actor: 'admin:api' }))
    expect(raced).toEqual({ kind: 'refused' })
    expect(await liveSessions(user.id)).toHaveLength(0)
  })
})
