import { describe, expect, it } from 'vitest'
import { refreshSession } from '../../../central/sessions/refresh-session'
import { useCentralTestApp } from '../../support/central-app'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp()

/** Rows and bytes of session state: the sessions table (heap and indexes) and the frozen legacy tokens. */
async function sessionState() {
  const [row] = await central.db.sql<{ rows: number; bytes: number }[]>`
    select (select count(*) from sessions)::int + (select count(*) from legacy_refresh_tokens)::int as rows,
           (pg_total_relation_size('sessions') + pg_total_relation_size('legacy_refresh_tokens'))::int as bytes`
  return row!
}

describe('session storage', () => {
  it('stays the same in rows and bytes however often a session refreshes (O(sessions), not O(refreshes))', async () => {
    const user = await insertTestUser(central.db.sql)
    const started = await startTestSession(central.t.deps, { user, actor: 'user' })
    let token = started.refreshToken
    const refreshTimes = async (n: number) => {
      for (let i = 0; i < n; i++) token = (await refreshSession(central.t.deps, { refreshToken: token, ip: '10.0.0.1', userAgent: 'test' })).refreshToken
    }
    // Past the first page prune: the row's updates are heap-only, dead versions pruned in place.
    await refreshTimes(50)
    const after50 = await sessionState()
    await refreshTimes(500)
    const after550 = await sessionState()
    expect(after550).toEqual(after50)
    expect(after550.rows).toBe(1)
    const [chain] = await central.db.sql<{ generation: number }[]>`select generation from sessions where id = ${started.sessionId}`
    expect(chain!.generation).toBe(550)
  })
})
