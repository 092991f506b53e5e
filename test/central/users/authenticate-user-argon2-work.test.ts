import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../../central/config'
import { authenticateUser } from '../../../central/users/authenticate-user'
import { hashPassword, verifyPassword } from '../../../central/users/passwords'
import { InvalidCredentials } from '../../../shared/errors'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser } from '../../support/users'

// The real argon2 functions, counted: which hash each login verified against.
vi.mock('../../../central/users/passwords', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../central/users/passwords')>()
  return { ...real, verifyPassword: vi.fn(real.verifyPassword) }
})

let db: TestDatabase
const config = loadConfig({})

beforeAll(async () => {
  db = await createTestDatabase()
  await insertTestUser(db.sql, { username: 'known', password: 'the real password' })
})
afterAll(() => db.drop())

describe('authenticateUser does the same argon2 work whether or not the user exists', () => {
  it('verifies an unknown username against a dummy argon2id hash, as it verifies a known one against theirs', async () => {
    const verify = vi.mocked(verifyPassword)
    const attempt = (username: string) => authenticateUser(db.sql, config, { username, password: 'a wrong password', ip: '10.0.0.9', now: new Date() })

    verify.mockClear()
    await expect(attempt('known')).rejects.toBeInstanceOf(InvalidCredentials)
    await expect(attempt('no-such-user')).rejects.toBeInstanceOf(InvalidCredentials)

    expect(verify).toHaveBeenCalledTimes(2)
    const [knownHash, unknownHash] = verify.mock.calls.map(([hash]) => hash)
    expect(unknownHash).not.toBe(knownHash)
    // Same algorithm and cost parameters: the hash strings agree up to the salt.
    const parameters = (hash: string) => hash.split('$').slice(0, 4).join('$')
    expect(parameters(unknownHash!)).toBe(parameters(knownHash!))
    expect(parameters(await hashPassword('x'))).toBe(parameters(knownHash!))
  })
})
