import { spawn } from 'node:child_process'
import { beforeEach, describe, expect, it } from 'vitest'
import { listAuditEvents, recordAuditEvent } from '../../../central/audit/store'
import { findSession } from '../../../central/sessions/store'
import { listSigningKeys } from '../../../central/tokens/signing-keys'
import { insertTestUser, type TestUser } from '../../support/users'
import { insertLiveSession } from '../console/console-support'
import { cliEnvironment, PORTCULLIS_BIN, runPortcullis, useCliCentral } from './cli-support'

const cli = useCliCentral()
let alice: TestUser

beforeEach(async () => {
  await cli.db.sql`delete from users where username = 'alice'`
  alice = await insertTestUser(cli.db.sql, { username: 'alice' })
})

describe('portcullis sessions', () => {
  it("lists a user's active sessions as a table and as JSON", async () => {
    const sid = await insertLiveSession(cli.db.sql, alice.id, cli.t.clock(), 'Mozilla/5.0 CliPhone')
    const table = await runPortcullis(['sessions', 'list', 'alice'], cli.env)
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^ID\s+STATE\s+CLIENT/)
    expect(table.stdout).toContain(sid)
    expect(table.stdout).toContain('CliPhone')
    const json = await runPortcullis(['sessions', 'list', 'alice', '--json'], cli.env)
    expect(JSON.stringify(JSON.parse(json.stdout))).toContain(sid)
  })

  it('revokes one session', async () => {
    const sid = await insertLiveSession(cli.db.sql, alice.id, cli.t.clock())
    const other = await insertLiveSession(cli.db.sql, alice.id, cli.t.clock())
    const result = await runPortcullis(['sessions', 'revoke', sid], cli.env)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`revoked session ${sid}`)
    expect((await findSession(cli.db.sql, sid, cli.t.clock()))?.state).toBe('revoked')
    expect((await findSession(cli.db.sql, other, cli.t.clock()))?.state).toBe('active')
    const again = await runPortcullis(['sessions', 'revoke', sid], cli.env)
    expect(again).toMatchObject({ code: 0 })
    expect(again.stdout).toContain('had already ended')
  })

  it('lists only active sessions unless asked for all', async () => {
    const revoked = await insertLiveSession(cli.db.sql, alice.id, cli.t.clock())
    const live = await insertLiveSession(cli.db.sql, alice.id, cli.t.clock())
    expect((await runPortcullis(['sessions', 'revoke', revoked], cli.env)).code).toBe(0)
    const active = await runPortcullis(['sessions', 'list', 'alice'], cli.env)
    expect(active.stdout).toContain(live)
    expect(active.stdout).not.toContain(revoked)
    const all = JSON.parse((await runPortcullis(['--json', 'sessions', 'list', 'alice', '--all'], cli.env)).stdout) as { sessions: { id: string; state: string }[] }
    expect(all.sessions.find((s) => s.id === revoked)?.state).toBe('revoked')
  })

  it('exits 5 for an unknown session', async () => {
    const result = await runPortcullis(['sessions', 'revoke', '00000000-0000-4000-8000-000000000000'], cli.env)
    expect(result.code).toBe(5)
  })

  it('revokes every session of a user', async () => {
    const sessions = [await insertLiveSession(cli.db.sql, alice.id, cli.t.clock()), await insertLiveSession(cli.db.sql, alice.id, cli.t.clock())]
    const result = await runPortcullis(['sessions', 'revoke-all', 'alice'], cli.env)
    expect(result.code).toBe(0)
    for (const sid of sessions) expect((await findSession(cli.db.sql, sid, cli.t.clock()))?.state).toBe('revoked')
  })

  it('exits 5 listing the sessions of an unknown user', async () => {
    expect((await runPortcullis(['sessions', 'list', 'nobody'], cli.env)).code).toBe(5)
  })
})

describe('portcullis keys', () => {
  it('lists the signing keys and rotates to a new one', async () => {
    const [active] = await listSigningKeys(cli.db.sql, cli.t.clock())
    const list = await runPortcullis(['keys', 'list'], cli.env)
    expect(list.code).toBe(0)
    expect(list.stdout).toContain(active!.kid)
    const rotate = await runPortcullis(['keys', 'rotate', '--json'], cli.env)
    expect(rotate.code).toBe(0)
    const keys = await listSigningKeys(cli.db.sql, cli.t.clock())
    const next = keys.find((k) => k.state === 'next')
    expect(next).toBeDefined()
    expect(rotate.stdout).toContain(next!.kid)
  })

  it('rotates immediately after a leak: the new key signs now', async () => {
    const before = new Set((await listSigningKeys(cli.db.sql, cli.t.clock())).map((k) => k.kid))
    const result = await runPortcullis(['keys', 'rotate', '--immediate'], cli.env)
    expect(result.code).toBe(0)
    const fresh = (await listSigningKeys(cli.db.sql, cli.t.clock())).find((k) => !before.has(k.kid))
    expect(fresh?.state).toBe('active')
  })

  it('exits 2 for --revoke-previous without --immediate', async () => {
    expect((await runPortcullis(['keys', 'rotate', '--revoke-previous'], cli.env)).code).toBe(2)
  })
})

describe('portcullis audit', () => {
  it('shows events filtered by user and type', async () => {
    const sid = await insertLiveSession(cli.db.sql, alice.id, cli.t.clock())
    await runPortcullis(['sessions', 'revoke', sid], cli.env)
    await recordAuditEvent(cli.db.sql, { type: 'user.updated', at: new Date(), actor: 'admin:other-type', userId: alice.id })
    const result = await runPortcullis(['audit', '--user', 'alice', '--type', 'session.revoked'], cli.env)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(sid)
    expect(result.stdout).toContain('admin:api')
    expect(result.stdout).not.toContain('admin:other-type')
    expect(result.stdout).toMatch(/session\.revoked\s+admin:api\s+alice\s/) // the user by name, not id
    const json = JSON.parse((await runPortcullis(['audit', '--session', sid, '--json'], cli.env)).stdout) as { events: { type: string; username: string; user_id: string }[] }
    expect(json.events[0]).toMatchObject({ type: 'session.revoked', username: 'alice', user_id: alice.id })
  })

  it('follows new events until interrupted', async () => {
    await recordAuditEvent(cli.db.sql, { type: 'user.updated', at: new Date(), actor: 'admin:before-follow', userId: alice.id })
    const child = spawn(process.execPath, [PORTCULLIS_BIN, 'audit', '--user', 'alice', '--follow', '--interval', '1'], { env: cliEnvironment(cli.env) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await expect.poll(() => stdout + stderr, { timeout: 15_000 }).toContain('admin:before-follow')
    await recordAuditEvent(cli.db.sql, { type: 'user.updated', at: new Date(), actor: 'admin:follow-test', userId: alice.id })
    await expect.poll(() => stdout, { timeout: 15_000 }).toContain('admin:follow-test')
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(stdout.indexOf('admin:before-follow')).toBeLessThan(stdout.indexOf('admin:follow-test'))
    expect(stdout.match(/admin:before-follow/g)).toHaveLength(1)
  })
})

describe('portcullis token mint', () => {
  it('creates a session for a subject and prints the token pair', async () => {
    const result = await runPortcullis(['token', 'mint', '--subject', 'alice', '--json'], cli.env)
    expect(result.code).toBe(0)
    const body = JSON.parse(result.stdout) as { access_token: string; refresh_token: string }
    expect(body.access_token.split('.')).toHaveLength(3)
    expect(body.refresh_token).toBeTruthy()
    const [created] = await listAuditEvents(cli.db.sql, { userId: alice.id, type: 'session.created' })
    expect(created).toBeDefined()
  })

  it('exits 1 with the API\'s reason for a disabled subject, not blaming the admin token', async () => {
    await cli.db.sql`update users set enabled = false where id = ${alice.id}`
    const result = await runPortcullis(['token', 'mint', '--subject', 'alice'], cli.env)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('user is disabled')
    expect(result.stderr).not.toContain('PORTCULLIS_ADMIN_TOKEN')
  })

})

describe('portcullis sessions revoke-all', () => {
  it('exits 5 for an unknown user', async () => {
    const result = await runPortcullis(['sessions', 'revoke-all', 'nobody'], cli.env)
    expect(result.code).toBe(5)
    expect(result.stderr).toContain('not found')
  })
})
