import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { insertConsoleSession } from '../../central/console/store'
import { purgeEndedState } from '../../central/retention'
import { buildCentralApp, type CentralTestApp } from '../support/central-app'
import { createTestDatabase, type TestDatabase } from '../support/database'
import { insertTestUser } from '../support/users'

let db: TestDatabase
let t: CentralTestApp

beforeAll(async () => {
  db = await createTestDatabase()
  t = await buildCentralApp(db.sql)
})
afterAll(() => db.drop())

describe('retention purge (every instance, every hour)', () => {
  it('deletes expired console sessions and keeps live ones', async () => {
    const admin = await insertTestUser(db.sql, { roles: ['portcullis:admin'] })
    const now = t.clock()
    const session = (name: string, expiresInMs: number) =>
      insertConsoleSession(db.sql, { tokenHash: Buffer.from(name), userId: admin.id, now, expiresAt: new Date(now.getTime() + expiresInMs), ip: 'not-an-ip', userAgent: null })
    await session('expired', -1000)
    await session('live', 60_000)

    await purgeEndedState(db.sql, t.config, now)

    const left = await db.sql<{ token_hash: Buffer; ip: string | null }[]>`select token_hash, ip from console_sessions where user_id = ${admin.id}`
    expect(left.map((row) => row.token_hash.toString())).toEqual(['live'])
    expect(left[0]!.ip).toBeNull() // an address that is not one is stored as unknown, not refused by inet
  })
})
