import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../central/config'
import { createAppDeps } from '../../../central/app-deps'
import { createApp } from '../../../central/http/app'
import { listAuditEvents } from '../../../central/audit/store'
import { createTestDatabase, type TestDatabase } from '../../support/database'

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789'
const config = loadConfig({ ADMIN_TOKEN })
const now = new Date('2030-05-01T10:00:00Z')

let db: TestDatabase
let app: ReturnType<typeof createApp>

beforeAll(async () => {
  db = await createTestDatabase()
  app = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
})
afterAll(() => db.drop())

const admin = (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) =>
  app.request(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: Response): Promise<any> => res.json()

async function insertSession(userId: string): Promise<string> {
  const later = new Date(now.getTime() + 3_600_000)
  const [row] = await db.sql<{ id: string }[]>`
    insert into sessions (user_id, client_id, audiences, scopes, created_at, last_used_at, idle_expires_at, absolute_expires_at)
    values (${userId}, 'web', '{api}', '{}', ${now}, ${now}, ${later}, ${later})
    returning id`
  return row!.id
}

describe('POST /admin/users', () => {
  it('creates a user with its grants and answers 201 without any password material', async () => {
    const res = await admin('POST', '/admin/users', {
      username: 'alice',
      password: 'correct horse battery',
      audiences: ['api', 'billing'],
      scopes: ['read', 'write'],
      roles: ['admin'],
    })
    expect(res.status).toBe(201)
    const body = await json(res)
    expect(body).toMatchObject({
      username: 'alice',
      enabled: true,
      has_password: true,
      audiences: ['api', 'billing'],
      scopes: ['read', 'write'],
      roles: ['admin'],
      not_before: null,
      created_at: now.toISOString(),
    })
    expect(JSON.stringify(body)).not.toMatch(/argon2|password_hash|correct horse/)
    const events = await listAuditEvents(db.sql, { userId: body.id, type: 'user.created' })
    expect(events).toHaveLength(1)
    expect(events[0]!.actor).toBe('admin:api')
  })

  it('defaults grants to empty lists', async () => {
    const res = await admin('POST', '/admin/users', { username: 'minimal', password: 'long enough' })
    expect(res.status).toBe(201)
    expect(await json(res)).toMatchObject({ audiences: [], scopes: [], roles: [] })
  })

  it('answers 409 conflict for a username that is taken', async () => {
    await admin('POST', '/admin/users', { username: 'dup', password: 'password-1' })
    const res = await admin('POST', '/admin/users', { username: 'dup', password: 'password-2' })
    expect(res.status).toBe(409)
    expect(await json(res)).toMatchObject({ error: 'conflict' })
  })

  it('creates exactly one user when the same username is posted concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => admin('POST', '/admin/users', { username: 'racer', password: 'password-1' })),
    )
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409])
  })

  it('rejects a password shorter than 8 characters', async () => {
    const res = await admin('POST', '/admin/users', { username: 'shorty', password: 'short' })
    expect(res.status).toBe(400)
    const body = await json(res)
    expect(body.error).toBe('invalid_request')
    expect(body.error_description).toContain('password')
    expect(body.error_description).not.toContain('short"')
  })

  it('rejects a password longer than 1024 characters', async () => {
    const res = await admin('POST', '/admin/users', { username: 'longy', password: 'x'.repeat(1025) })
    expect(res.status).toBe(400)
    expect(await json(res)).toMatchObject({ error: 'invalid_request' })
  })

  it('rejects a username with characters that are not path-safe', async () => {
    const res = await admin('POST', '/admin/users', { username: 'a/b', password: 'password-1' })
    expect(res.status).toBe(400)
    expect(await json(res)).toMatchObject({ error: 'invalid_request' })
  })

  it('rejects a scope containing a space (RFC 6749 §3.3 scope-token)', async () => {
    const res = await admin('POST', '/admin/users', { username: 'spacey', password: 'password-1', scopes: ['read write'] })
    expect(res.status).toBe(400)
  })

  it('rejects unknown fields', async () => {
    const res = await admin('POST', '/admin/users', { username: 'extra', password: 'password-1', is_admin: true })
    expect(res.status).toBe(400)
  })

  it('answers 401 with a Bearer challenge without the admin token', async () => {
    const res = await app.request('/admin/users', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer realm="portcullis"/)
  })

  it('answers 401 invalid_token for a wrong admin token', async () => {
    const res = await admin('POST', '/admin/users', { username: 'x1', password: 'password-1' }, 'wrong-token-wrong-token-wrong')
    expect(res.status).toBe(401)
    expect(await json(res)).toMatchObject({ error: 'invalid_token' })
    expect(await db.sql`select 1 from users where username = 'x1'`).toHaveLength(0)
  })

  it('does not exist when no ADMIN_TOKEN is configured', async () => {
    const closed = createApp(createAppDeps({ sql: db.sql, config: loadConfig({}), clock: () => now }))
    const res = await closed.request('/admin/users', {
      method: 'POST',
      headers: { Authorization: 'Bearer anything-at-all-here', 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'x2', password: 'password-1' }),
    })
    expect(res.status).toBe(404)
  })
})

describe('GET /admin/users', () => {
  it('shows one user by username', async () => {
    const res = await admin('GET', '/admin/users/alice')
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({ username: 'alice', roles: ['admin'] })
  })

  it('answers 404 not_found for an unknown username', async () => {
    const res = await admin('GET', '/admin/users/nobody')
    expect(res.status).toBe(404)
    expect(await json(res)).toMatchObject({ error: 'not_found' })
  })

  it('lists users by prefix, treating % and _ literally', async () => {
    for (const username of ['team.one', 'team.two', 'teamster', 'team_x']) {
      await admin('POST', '/admin/users', { username, password: 'password-1' })
    }
    const res = await admin('GET', '/admin/users?prefix=team.')
    expect(res.status).toBe(200)
    const { users } = await json(res)
    expect(users.map((u: { username: string }) => u.username)).toEqual(['team.one', 'team.two'])
    const underscore = await json(await admin('GET', '/admin/users?prefix=team_'))
    expect(underscore.users.map((u: { username: string }) => u.username)).toEqual(['team_x'])
    const percent = await json(await admin('GET', '/admin/users?prefix=%25'))
    expect(percent.users).toEqual([])
  })

  it('honours the limit', async () => {
    const { users } = await json(await admin('GET', '/admin/users?prefix=team&limit=2'))
    expect(users).toHaveLength(2)
  })
})

describe('PATCH /admin/users/:username', () => {
  it('adds and removes named grant values, leaves the rest alone, and says what it did', async () => {
    const res = await admin('PATCH', '/admin/users/alice', { add: { scopes: ['orders:read'] }, remove: { scopes: ['write'], roles: ['admin'] } })
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body).toMatchObject({
      audiences: ['api', 'billing'],
      scopes: ['read', 'orders:read'],
      roles: [],
      added: { audiences: [], scopes: ['orders:read'], roles: [] },
      removed: { audiences: [], scopes: ['write'], roles: ['admin'] },
      sessions_revoked: 0,
    })
    const [event] = await listAuditEvents(db.sql, { userId: body.id, type: 'user.updated' })
    expect(event?.details).toEqual({ changed: ['scopes', 'roles'], added: { scopes: ['orders:read'] }, removed: { scopes: ['write'], roles: ['admin'] } })
  })

  it('reports nothing added for a value already held and nothing removed for a value not held', async () => {
    const res = await admin('PATCH', '/admin/users/alice', { add: { scopes: ['read'] }, remove: { roles: ['never-held'] } })
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({
      scopes: ['read', 'orders:read'],
      added: { audiences: [], scopes: [], roles: [] },
      removed: { audiences: [], scopes: [], roles: [] },
    })
  })

  it('refuses the retired top-level grant lists with a 400 that shows the explicit form, changing nothing', async () => {
    const res = await admin('PATCH', '/admin/users/alice', { scopes: ['read'], roles: ['admin'] })
    expect(res.status).toBe(400)
    const body = await json(res)
    expect(body.error).toBe('invalid_request')
    expect(body.error_description).toMatch(/no longer accepted.*add\/remove.*replace/)
    const [row] = await db.sql<{ scopes: string[] }[]>`select scopes from users where username = 'alice'`
    expect(row?.scopes).toEqual(['read', 'orders:read'])
  })

  it('replaces a whole list only when asked to with replace, and lists what that removed', async () => {
    const res = await admin('PATCH', '/admin/users/alice', { replace: { audiences: ['api'] } })
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({
      audiences: ['api'],
      scopes: ['read', 'orders:read'],
      removed: { audiences: ['billing'], scopes: [], roles: [] },
    })
    await admin('PATCH', '/admin/users/alice', { add: { audiences: ['billing'] } })
  })

  it('refuses replace together with add/remove, and a value both added and removed', async () => {
    for (const body of [{ replace: { roles: [] }, add: { scopes: ['x'] } }, { add: { scopes: ['x'] }, remove: { scopes: ['x'] } }, { add: { colours: ['red'] } }]) {
      const res = await admin('PATCH', '/admin/users/alice', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(await json(res)).toMatchObject({ error: 'invalid_request' })
    }
  })

  it('refuses to take portcullis:admin from the last enabled admin, by removal, replace or disable (409)', async () => {
    await db.sql`update users set roles = array_remove(roles, 'portcullis:admin')`
    await admin('POST', '/admin/users', { username: 'only-admin', password: 'password-1', roles: ['portcullis:admin', 'support'] })
    for (const body of [{ remove: { roles: ['portcullis:admin'] } }, { replace: { roles: ['support'] } }, { enabled: false }]) {
      const res = await admin('PATCH', '/admin/users/only-admin', body)
      expect(res.status, JSON.stringify(body)).toBe(409)
      expect((await json(res)).error_description).toMatch(/no enabled user with the portcullis:admin role/)
    }
    const [row] = await db.sql<{ roles: string[]; enabled: boolean }[]>`select roles, enabled from users where username = 'only-admin'`
    expect(row).toEqual({ roles: ['portcullis:admin', 'support'], enabled: true })
    // Other changes to the last admin still go through.
    expect((await admin('PATCH', '/admin/users/only-admin', { remove: { roles: ['support'] } })).status).toBe(200)
  })

  it('lets one of two admins go, and of two concurrent removals exactly one succeeds', async () => {
    await admin('POST', '/admin/users', { username: 'second-admin', password: 'password-1', roles: ['portcullis:admin'] })
    const answers = await Promise.all(
      ['only-admin', 'second-admin'].map((username) => admin('PATCH', `/admin/users/${username}`, { remove: { roles: ['portcullis:admin'] } })),
    )
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409])
    const [row] = await db.sql<{ count: number }[]>`select count(*)::int as count from users where 'portcullis:admin' = any(roles) and enabled`
    expect(row?.count).toBe(1)
  })

  it('disabling a user revokes all of its sessions in the same step', async () => {
    const created = await json(await admin('POST', '/admin/users', { username: 'leaver', password: 'password-1' }))
    const sessions = [await insertSession(created.id), await insertSession(created.id)]
    const res = await admin('PATCH', '/admin/users/leaver', { enabled: false })
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body).toMatchObject({ enabled: false, sessions_revoked: 2 })
    expect(body.not_before).not.toBeNull()
    const rows = await db.sql<{ revoked_at: Date | null }[]>`select revoked_at from sessions where id = any(${sessions})`
    expect(rows.every((r) => r.revoked_at !== null)).toBe(true)
    expect(await listAuditEvents(db.sql, { userId: created.id, type: 'user.disabled' })).toHaveLength(1)
  })

  it('re-enabling a user does not bring its sessions back', async () => {
    const res = await admin('PATCH', '/admin/users/leaver', { enabled: true })
    expect(await json(res)).toMatchObject({ enabled: true, sessions_revoked: 0 })
    const live = await db.sql`select 1 from sessions s join users u on u.id = s.user_id where u.username = 'leaver' and s.revoked_at is null`
    expect(live).toHaveLength(0)
  })

  it('changes the password: the new one logs in, and the audit trail says only that it changed', async () => {
    const res = await admin('PATCH', '/admin/users/minimal', { password: 'a brand new password' })
    expect(res.status).toBe(200)
    const [row] = await db.sql<{ password_hash: string; id: string }[]>`select id, password_hash from users where username = 'minimal'`
    const { verifyPassword } = await import('../../../central/users/passwords')
    expect(await verifyPassword(row!.password_hash, 'a brand new password')).toBe(true)
    const [event] = await listAuditEvents(db.sql, { userId: row!.id, type: 'user.updated' })
    expect(event?.details).toEqual({ changed: ['password'] })
    expect(JSON.stringify(event)).not.toContain('brand new')
  })

  it('rejects an empty patch', async () => {
    const res = await admin('PATCH', '/admin/users/alice', {})
    expect(res.status).toBe(400)
    expect(await json(res)).toMatchObject({ error: 'invalid_request' })
  })

  it('answers 404 for an unknown username', async () => {
    const res = await admin('PATCH', '/admin/users/nobody', { enabled: false })
    expect(res.status).toBe(404)
  })
})
