import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authenticateUser } from '../../../central/users/authenticate-user'
import { usernameKey } from '../../../central/users/login-throttle'
import { hashPassword } from '../../../central/users/passwords'
import { createUser, updateUser } from '../../../central/users/store'
import { loadConfig } from '../../../central/config'
import { InvalidCredentials, TooManyRequests } from '../../../shared/errors'
import { createTestDatabase, type TestDatabase } from '../../support/database'

let db: TestDatabase
const config = loadConfig({ LOGIN_MAX_FAILURES_PER_USERNAME: '3', LOGIN_MAX_FAILURES_PER_IP: '10', LOGIN_THROTTLE_WINDOW_SECONDS: '60' })
const t0 = new Date('2030-01-01T00:00:00Z')
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000)

beforeAll(async () => {
  db = await createTestDatabase()
  const passwordHash = await hashPassword('correct horse battery')
  for (const username of ['alice', 'bob', 'carol', 'dave', 'erin']) {
    await createUser(db.sql, { username, passwordHash, audiences: ['api'], scopes: ['read'], roles: [], actor: 'test', now: t0 })
  }
})
afterAll(() => db.drop())

const login = (username: string, password: string, ip: string, now = t0) =>
  authenticateUser(db.sql, config, { username, password, ip, now })

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('authenticateUser', () => {
  it('returns the user and its grants for the right password', async () => {
    const user = await login('alice', 'correct horse battery', '10.0.0.1')
    expect(user).toMatchObject({ username: 'alice', audiences: ['api'], scopes: ['read'], roles: [] })
    expect(user.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(Object.keys(user)).not.toContain('passwordHash')
  })

  it('answers wrong password, unknown user and disabled user with the same error', async () => {
    await updateUser(db.sql, 'bob', { enabled: false }, 'test', t0)
    const errors = await Promise.all([
      errorOf(login('alice', 'wrong password', '10.0.0.2')),
      errorOf(login('nobody-by-this-name', 'whatever1', '10.0.0.2')),
      errorOf(login('bob', 'correct horse battery', '10.0.0.2')),
    ])
    for (const error of errors) {
      expect(error).toBeInstanceOf(InvalidCredentials)
      expect((error as Error).message).toBe('username or password is incorrect')
    }
  })

  it('throttles a username after the configured number of failures, even with the right password', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await errorOf(login('carol', 'wrong password', `10.1.0.${i}`, at(i)))).toBeInstanceOf(InvalidCredentials)
    }
    const throttled = await errorOf(login('carol', 'correct horse battery', '10.1.0.9', at(10)))
    expect(throttled).toBeInstanceOf(TooManyRequests)
    expect((throttled as TooManyRequests).retryAfterSeconds).toBe(50)
    expect((throttled as TooManyRequests).headers['Retry-After']).toBe('50')
    // A new window lets the owner back in.
    await expect(login('carol', 'correct horse battery', '10.1.0.9', at(61))).resolves.toMatchObject({ username: 'carol' })
  })

  it('lets no more than the limit through when many wrong guesses arrive at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => errorOf(login('dave', `guess-${i}-wrong`, `10.2.0.${i}`))),
    )
    expect(results.filter((e) => e instanceof InvalidCredentials)).toHaveLength(3)
    expect(results.filter((e) => e instanceof TooManyRequests)).toHaveLength(9)
  })

  it('throttles an address that tries many usernames', async () => {
    const results: unknown[] = []
    for (let i = 0; i < 11; i++) results.push(await errorOf(login(`spray-${i}`, 'password1', '10.3.0.1')))
    expect(results.slice(0, 10).every((e) => e instanceof InvalidCredentials)).toBe(true)
    expect(results[10]).toBeInstanceOf(TooManyRequests)
    expect((results[10] as Error).message).toContain('address')
  })

  it('resets the username count after a successful login', async () => {
    await errorOf(login('erin', 'wrong password', '10.4.0.1'))
    await errorOf(login('erin', 'wrong password', '10.4.0.1'))
    expect(await db.sql`select failures from login_attempts where key = ${usernameKey('erin')}`).toEqual([{ failures: 2 }])
    await login('erin', 'correct horse battery', '10.4.0.1')
    expect(await db.sql`select failures from login_attempts where key = ${usernameKey('erin')}`).toHaveLength(0)
    await errorOf(login('erin', 'wrong password', '10.4.0.1'))
    await errorOf(login('erin', 'wrong password', '10.4.0.1'))
    await expect(login('erin', 'correct horse battery', '10.4.0.1')).resolves.toMatchObject({ username: 'erin' })
  })

  it('stores the password only as an argon2id hash with OWASP parameters', async () => {
    const [row] = await db.sql<{ password_hash: string }[]>`select password_hash from users where username = 'alice'`
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(row?.password_hash).not.toContain('correct horse battery')
  })
})
