import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { authenticateUser } from '../../../central/users/authenticate-user'
import { InvalidCredentials } from '../../../shared/errors'
import { useCentralTestApp } from '../../support/central-app'
import { login } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'

const VICTIM_PASSWORD = 'victim-password-kept-secret'
const ATTACKER_PASSWORD = 'attacker-own-password'

const central = useCentralTestApp({ env: { LOGIN_MAX_FAILURES_PER_USERNAME: '3', LOGIN_MAX_FAILURES_PER_IP: '50' } })

describe('per-username login throttle', () => {
  it('is not reset for an account by a successful login to an account differing only in case', async () => {
    await insertTestUser(central.db.sql, { username: 'Victim', password: VICTIM_PASSWORD })
    await insertTestUser(central.db.sql, { username: 'victim', password: ATTACKER_PASSWORD })
    // Two guesses at `Victim`, then a good login as the attacker's own `victim`, over and over.
    const guesses: number[] = []
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) guesses.push((await login(central.t, { username: 'Victim', password: `guess-${round}-${i}` })).status)
      expect((await login(central.t, { username: 'victim', password: ATTACKER_PASSWORD })).status).toBe(200)
    }
    expect(guesses).toEqual([401, 401, 401, 429, 429, 429])
  })

  it('keeps the throttle key small and free of the typed text however long the username', async () => {
    // Random, so PostgreSQL cannot compress it under the 2704-byte btree limit of login_attempts' key.
    const username = randomBytes(4500).toString('base64url')
    const attempt = authenticateUser(central.db.sql, central.t.config, { username, password: 'whatever-1', ip: '10.9.0.1', now: central.t.clock() })
    await expect(attempt).rejects.toBeInstanceOf(InvalidCredentials)
    const keys = (await central.db.sql<{ key: string }[]>`select key from login_attempts where key like 'user:%'`).map((row) => row.key)
    // This attempt was counted, under the SHA-256 of the exact username (earlier tests' keys share the table).
    expect(keys).toContain(`user:${createHash('sha256').update(username).digest('hex')}`)
    for (const key of keys) expect(key).toMatch(/^user:[0-9a-f]{64}$/)
  })
})
