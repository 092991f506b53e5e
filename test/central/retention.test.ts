import { describe, expect, it } from 'vitest'
import { insertConsoleSession } from '../../central/console-sessions/store'
import { purgeEndedState } from '../../central/retention'
import { useCentralTestApp } from '../support/central-app'
import { insertTestUser } from '../support/users'

const central = useCentralTestApp()

describe('retention purge (every instance, every hour)', () => {
  it('deletes expired console sessions and keeps live ones', async () => {
    const admin = await insertTestUser(central.db.sql, { roles: ['portcullis:admin'] })
    const now = central.t.clock()
    const session = (name: string, expiresInMs: number) =>
      insertConsoleSession(central.db.sql, { tokenHash: Buffer.from(name), userId: admin.id, now, expiresAt: new Date(now.getTime() + expiresInMs), ip: '::::', userAgent: null })
    await session('expired', -1000)
    await session('live', 60_000)

    await purgeEndedState(central.db.sql, central.t.config, now)

    const left = await central.db.sql<{ token_hash: Buffer; ip: string | null }[]>`select token_hash, ip from console_sessions where user_id = ${admin.id}`
    expect(left.map((row) => row.token_hash.toString())).toEqual(['live'])
    // `::::` passed the console store's old `[0-9a-fA-F:.]` filter and made PostgreSQL's inet refuse the
    // insert; an address that is not one is stored as unknown.
    expect(left[0]!.ip).toBeNull()
  })
})
