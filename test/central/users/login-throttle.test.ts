import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCentralApp, type CentralTestApp } from '../../support/central-app'
import { login } from '../../support/central-requests'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser } from '../../support/users'

const VICTIM_PASSWORD = 'victim-password-kept-secret'
const ATTACKER_PASSWORD = 'attacker-own-password'

let db: TestDatabase
let t: CentralTestApp

beforeAll(async () => {
  db = await createTestDatabase()
  t = await buildCentralApp(db.sql, { env: { LOGIN_MAX_FAILURES_PER_USERNAME: '3', LOGIN_MAX_FAILURES_PER_IP: '50' } })
})
afterAll(() => db.drop())

describe('per-username login throttle', () => {
  it('is not reset for an account by a successful login to an account differing only in case', async () => {
    await insertTestUser(db.sql, { username: 'Victim', password: VICTIM_PASSWORD })
    await insertTestUser(db.sql, { username: 'victim', password: ATTACKER_PASSWORD })
    // Two guesses at `Victim`, then a good login as the attacker's own `victim`, over and over.
    const guesses: number[] = []
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) guesses.push((await login(t, { username: 'Victim', password: `guess-${round}-${i}` })).status)
      expect((await login(t, { username: 'victim', password: ATTACKER_PASSWORD })).status).toBe(200)
    }
    expect(guesses).toEqual([401, 401, 401, 429, 429, 429])
  })
})
