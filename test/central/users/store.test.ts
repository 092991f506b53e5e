import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { purgeLoginAttempts, reserveLoginAttempts, resetLoginAttempts, searchUsersByPrefix, createUser } from '../../../central/users/store'
import { throttleKeys } from '../../../central/users/login-throttle'
import { Conflict } from '../../../shared/errors'
import { createTestDatabase, type TestDatabase } from '../../support/database'

let db: TestDatabase
const now = new Date('2030-03-01T00:00:00Z')
const limits = { maxFailuresPerUsernameAndIp: 5, maxFailuresPerUsername: 5, maxFailuresPerIp: 50, windowSeconds: 60 }

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

const newUser = (username: string) =>
  createUser(db.sql, { username, passwordHash: null, audiences: [], scopes: [], roles: [], actor: 'test', now })

describe('users store', () => {
  it('rejects a second user with the same username with Conflict', async () => {
    await newUser('same')
    await expect(newUser('same')).rejects.toBeInstanceOf(Conflict)
  })

  it('searches by literal prefix in username order, bounded by the limit', async () => {
    for (const name of ['b.2', 'b.1', 'bx', 'b%']) await newUser(name)
    expect((await searchUsersByPrefix(db.sql, 'b.', 10)).map((u) => u.username)).toEqual(['b.1', 'b.2'])
    expect((await searchUsersByPrefix(db.sql, 'b%', 10)).map((u) => u.username)).toEqual(['b%'])
    expect(await searchUsersByPrefix(db.sql, 'b', 2)).toHaveLength(2)
  })

  it('counts attempts per key in one statement and starts a new window when the old one ended', async () => {
    const first = await reserveLoginAttempts(db.sql, ['user:w', 'ip:1.2.3.4'], { ...limits, now })
    expect(first.map((c) => c.failures)).toEqual([1, 1])
    const second = await reserveLoginAttempts(db.sql, ['user:w'], { ...limits, now: new Date(now.getTime() + 1000) })
    expect(second[0]).toMatchObject({ failures: 2, windowStart: now })
    const later = new Date(now.getTime() + 61_000)
    const fresh = await reserveLoginAttempts(db.sql, ['user:w'], { ...limits, now: later })
    expect(fresh[0]).toMatchObject({ failures: 1, windowStart: later })
  })

  it('purges counters whose window started before the cut-off', async () => {
    const purged = await purgeLoginAttempts(db.sql, new Date(now.getTime() + 30_000))
    expect(purged).toBe(1) // ip:1.2.3.4; user:w restarted later
    const keys = await db.sql<{ key: string }[]>`select key from login_attempts`
    expect(keys.map((k) => k.key)).toEqual(['user:w'])
  })

  it('reserves and resets one username\'s counters concurrently without deadlocking', async () => {
    // Concurrent logins of one username: each reserves the same counters, a successful one resets
    // them. Taken in different orders, PostgreSQL aborts one of two such statements (40P01).
    const { usernameAndIp, username, ip } = throttleKeys('busy', '10.1.2.3')
    const keys = [usernameAndIp, username, ip]
    const resetKeys = [username, usernameAndIp]
    const failures: unknown[] = []
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 150; i++) {
          await Promise.all([reserveLoginAttempts(db.sql, keys, { ...limits, now }), resetLoginAttempts(db.sql, resetKeys)]).catch((error: unknown) => failures.push(error))
        }
      }),
    )
    expect(failures).toEqual([])
  })
})
