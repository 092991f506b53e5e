import { describe, expect, it } from 'vitest'
import { listAuditEvents } from '../../../central/audit/store'
import { findUserByUsername } from '../../../central/users/store'
import { usernameKey } from '../../../central/users/login-throttle'
import { insertTestUser } from '../../support/users'
import { runPortcullis, useCliCentral } from './cli-support'

const cli = useCliCentral()

describe('portcullis users grant / revoke-grant', () => {
  it('adds a role and a scope, keeping what the user held, and prints what was added', async () => {
    await insertTestUser(cli.db.sql, { username: 'hana', password: 'hana-password-1', scopes: ['orders:read'], roles: ['portcullis:admin'] })
    const result = await runPortcullis(['users', 'grant', 'hana', '--role', 'support', '--scope', 'orders:write'], cli.env)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toMatch(/added scopes:\s+orders:write/)
    expect(result.stdout).toMatch(/added roles:\s+support/)
    const stored = await findUserByUsername(cli.db.sql, 'hana')
    expect(stored?.roles).toEqual(['portcullis:admin', 'support'])
    expect(stored?.scopes).toEqual(['orders:read', 'orders:write'])
  })

  it('removes only the named values and prints what was removed (JSON with --json)', async () => {
    const result = await runPortcullis(['users', 'revoke-grant', 'hana', '--scope', 'orders:read', '--json'], cli.env)
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ scopes: ['orders:write'], removed: { scopes: ['orders:read'], roles: [], audiences: [] } })
    expect((await findUserByUsername(cli.db.sql, 'hana'))?.roles).toEqual(['portcullis:admin', 'support'])
  })

  it('exits 2 when no value is named', async () => {
    const result = await runPortcullis(['users', 'grant', 'hana'], cli.env)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--audience, --scope or --role')
  })

  it('exits 1 with the conflict when the last admin would lose portcullis:admin', async () => {
    await cli.db.sql`update users set roles = array_remove(roles, 'portcullis:admin') where username <> 'hana'`
    const result = await runPortcullis(['users', 'revoke-grant', 'hana', '--role', 'portcullis:admin'], cli.env)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('conflict')
    expect((await findUserByUsername(cli.db.sql, 'hana'))?.roles).toContain('portcullis:admin')
  })
})

describe('portcullis users unlock', () => {
  it('clears the failed-login counts of a user and says how many', async () => {
    const user = await insertTestUser(cli.db.sql, { username: 'ines' })
    await cli.db.sql`insert into login_attempts (key, failures, window_start) values (${usernameKey('ines')}, 50, now())`
    const result = await runPortcullis(['users', 'unlock', 'ines'], cli.env)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toContain('unlocked ines: cleared 1')
    expect(await cli.db.sql`select 1 from login_attempts where key = ${usernameKey('ines')}`).toHaveLength(0)
    expect(await listAuditEvents(cli.db.sql, { userId: user.id, type: 'user.unlocked' })).toHaveLength(1)
  })

  it('exits 5 for an unknown user', async () => {
    expect((await runPortcullis(['users', 'unlock', 'nobody-here'], cli.env)).code).toBe(5)
  })
})
