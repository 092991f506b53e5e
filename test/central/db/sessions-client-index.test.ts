import { describe, expect, it } from 'vitest'
import { refreshSession } from '../../../central/sessions/refresh-session'
import { useCentralTestApp } from '../../support/central-app'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp()

describe('sessions by client', () => {
  it('ends a client\'s live sessions through an index, not a read of the whole table', async () => {
    const plan = await central.db.sql.begin(async (tx) => {
      // The test table is tiny: forbid the sequential scan PostgreSQL would rightly prefer here.
      await tx`set local enable_seqscan = off`
      const [row] = await tx.unsafe(`explain (format json) update sessions set revoked_at = now() where client_id = 'some-client' and revoked_at is null`)
      return JSON.stringify(row)
    })
    expect(plan).toContain('sessions_live_client_id_idx')
  })

  it('keeps refreshes heap-only: they add no index entries', async () => {
    const { sql } = central.db
    const user = await insertTestUser(sql)
    let { refreshToken } = await startTestSession(central.t.deps, { user, actor: 'user' })
    const hotUpdates = async () => {
      await sql`select pg_stat_force_next_flush()`
      const [row] = await sql<{ updates: number; hot: number }[]>`
        select n_tup_upd::int as updates, n_tup_hot_upd::int as hot from pg_stat_user_tables where relname = 'sessions'`
      return row!
    }
    const before = await hotUpdates()
    for (let i = 0; i < 20; i++) refreshToken = (await refreshSession(central.t.deps, { refreshToken, ip: null, userAgent: null })).refreshToken
    // Each backend reports its counts within about a second of going idle: wait for all 20.
    await expect.poll(async () => (await hotUpdates()).updates - before.updates, { timeout: 10_000, interval: 200 }).toBe(20)
    expect((await hotUpdates()).hot - before.hot).toBe(20)
  })
})
