import { describe, expect, it } from 'vitest'
import { findUserByUsername } from '../../../central/users/store'
import { insertTestUser } from '../../support/users'
import { listen, runPortcullis, useCliCentral } from './cli-support'

const cli = useCliCentral()


describe('portcullis users', () => {
  it('adds a user with the password from stdin and prints it as a table', async () => {
    const result = await runPortcullis(['users', 'add', 'carol', '--audience', 'https://api.example.test', '--role', 'support'], cli.env, 'a long enough password\n')
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toMatch(/username:\s+carol/)
    expect(result.stdout).toMatch(/audiences:\s+https:\/\/api\.example\.test/)
    const stored = await findUserByUsername(cli.db.sql, 'carol')
    expect(stored?.roles).toEqual(['support'])
    expect(stored?.passwordHash).toMatch(/^\$argon2id\$/)
  })

  it('shows a user as JSON with --json', async () => {
    await insertTestUser(cli.db.sql, { username: 'dave', scopes: ['read'] })
    const result = await runPortcullis(['users', 'show', 'dave', '--json'], cli.env)
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ username: 'dave', scopes: ['read'], enabled: true })
  })

  it('disables and enables a user', async () => {
    await insertTestUser(cli.db.sql, { username: 'erin' })
    const disabled = await runPortcullis(['users', 'disable', 'erin'], cli.env)
    expect(disabled.code).toBe(0)
    expect(disabled.stdout).toMatch(/enabled:\s+false/)
    expect((await findUserByUsername(cli.db.sql, 'erin'))?.enabled).toBe(false)
    const enabled = await runPortcullis(['users', 'enable', 'erin', '--json'], cli.env)
    expect(JSON.parse(enabled.stdout)).toMatchObject({ enabled: true })
  })

  it('exits 5 for an unknown user', async () => {
    const result = await runPortcullis(['users', 'show', 'nobody'], cli.env)
    expect(result.code).toBe(5)
    expect(result.stderr).toContain('not found')
  })

  it('exits 1 with the API error when the username is taken', async () => {
    await insertTestUser(cli.db.sql, { username: 'frank' })
    const result = await runPortcullis(['users', 'add', 'frank'], cli.env, 'a long enough password\n')
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('conflict')
  })

  it('exits 2 when the password is not piped on stdin', async () => {
    const result = await runPortcullis(['users', 'add', 'gina'], cli.env, '')
    expect(result.code).toBe(2)
    expect(await findUserByUsername(cli.db.sql, 'gina')).toBeUndefined()
  })
})

describe('portcullis error exits', () => {
  it('exits 4 with a wrong admin token', async () => {
    const result = await runPortcullis(['users', 'show', 'dave'], { ...cli.env, PORTCULLIS_ADMIN_TOKEN: 'wrong-token-wrong-token-wrong' })
    expect(result.code).toBe(4)
    expect(result.stderr).toContain('unauthorized')
  })

  it('exits 4 without an admin token', async () => {
    const result = await runPortcullis(['users', 'show', 'dave'], { PORTCULLIS_URL: cli.env.PORTCULLIS_URL! })
    expect(result.code).toBe(4)
  })

  it('exits 3 when central is unreachable', async () => {
    const closed = await listen(cli.t)
    await closed.close()
    const result = await runPortcullis(['users', 'show', 'dave'], { ...cli.env, PORTCULLIS_URL: closed.url })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('cannot reach portcullis')
  })

  it('exits 2 on an unknown command or a missing argument', async () => {
    expect((await runPortcullis(['users', 'frobnicate'], cli.env)).code).toBe(2)
    expect((await runPortcullis(['sessions', 'revoke'], cli.env)).code).toBe(2)
    expect((await runPortcullis(['audit', '--limit', 'many'], cli.env)).code).toBe(2)
  })

  it('says which option value is wrong when it exits 2', async () => {
    const result = await runPortcullis(['audit', '--limit', '0'], cli.env)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("option '--limit <n>' argument '0' is invalid. not a positive integer")
  })

  it('prints help with exit 0 and documents the exit codes', async () => {
    const result = await runPortcullis(['--help'], {})
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('3 unreachable, 4 unauthorized, 5 not found')
  })
})
