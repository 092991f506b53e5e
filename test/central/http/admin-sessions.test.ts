import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { startTestSession } from '../../support/central-sessions'
import { purgeEndedSessions } from '../../../central/sessions/store'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer, refresh } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp()

const admin = (path: string, init: RequestInit = {}) =>
  central.t.app.request(path, { ...init, headers: { ...bearer(TEST_ADMIN_TOKEN), ...(init.headers as Record<string, string> | undefined) } })

describe('admin session API', () => {
  it('refuses requests without the admin token', async () => {
    const response = await central.t.app.request('/admin/keys')
    expect(response.status).toBe(401)
    const wrong = await central.t.app.request('/admin/keys', { headers: bearer('x'.repeat(40)) })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ error: 'invalid_token' })
  })

  it('lists a user\'s sessions with device metadata', async () => {
    const user = await insertTestUser(central.db.sql)
    await startTestSession(central.t.deps, { user, userAgent: 'Firefox', ip: '192.0.2.7', actor: 'user' })
    const response = await admin(`/admin/users/${user.username}/sessions`)
    expect(response.status).toBe(200)
    const { sessions } = (await response.json()) as { sessions: Record<string, unknown>[] }
    expect(sessions).toEqual([expect.objectContaining({ user_agent: 'Firefox', ip: '192.0.2.7', client_id: 'web', state: 'active' })])
    expect((await admin('/admin/users/nobody-at-all/sessions')).status).toBe(404)
  })

  it('revokes one session with the admin as actor and the given reason', async () => {
    const user = await insertTestUser(central.db.sql)
    const s = await startTestSession(central.t.deps, { user, actor: 'user' })
    const response = await admin(`/admin/sessions/${s.sessionId}?reason=stolen%20laptop`, { method: 'DELETE' })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ revoked: true })
    expect((await refresh(central.t, s.refreshToken)).status).toBe(400)
    const audit = (await (await admin(`/admin/audit?session=${s.sessionId}&type=session.revoked`)).json()) as { events: Record<string, unknown>[] }
    expect(audit.events).toEqual([expect.objectContaining({ actor: 'admin:api', reason: 'stolen laptop', type: 'session.revoked' })])
    const again = await admin(`/admin/sessions/${s.sessionId}`, { method: 'DELETE' })
    expect(await again.json()).toEqual({ revoked: false })
    expect((await admin('/admin/sessions/00000000-0000-4000-8000-000000000000', { method: 'DELETE' })).status).toBe(404)
  })

  it('revokes every session of a user', async () => {
    const user = await insertTestUser(central.db.sql)
    const sessions = await Promise.all([1, 2].map(() => startTestSession(central.t.deps, { user, actor: 'user' })))
    const response = await admin(`/admin/users/${user.username}/sessions`, { method: 'DELETE' })
    expect(await response.json()).toEqual({ revoked: 2 })
    for (const s of sessions) expect((await refresh(central.t, s.refreshToken)).status).toBe(400)
  })

  it('pages the audit trail by user, newest first', async () => {
    const user = await insertTestUser(central.db.sql)
    for (let i = 0; i < 3; i++) await startTestSession(central.t.deps, { user, actor: 'user' })
    const page1 = (await (await admin(`/admin/audit?user=${user.username}&limit=2`)).json()) as { events: { id: string }[]; next_before: string }
    expect(page1.events).toHaveLength(2)
    const page2 = (await (await admin(`/admin/audit?user=${user.username}&limit=2&before=${page1.next_before}`)).json()) as { events: { id: string }[] }
    expect(page2.events).toHaveLength(1)
    expect(Number(page2.events[0]!.id)).toBeLessThan(Number(page1.events[1]!.id))
    expect((await admin('/admin/audit?before=drop%20table')).status).toBe(400)
  })

  it('starts a session for an externally authenticated subject, creating it without a password', async () => {
    const response = await admin('/admin/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ subject: 'sso-user@example.test', audiences: ['https://api.example.test'], scopes: ['read'], roles: ['viewer'], client_id: 'partner' }),
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { access_token: string; refresh_token: string; scope: string }
    expect(body.scope).toBe('read')
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: ['https://api.example.test'], roles: ['viewer'], client_id: 'partner' })
    const [row] = await central.db.sql<{ password_hash: string | null }[]>`select password_hash from users where username = 'sso-user@example.test'`
    expect(row!.password_hash).toBeNull()
    expect((await refresh(central.t, body.refresh_token, { client_id: 'partner' })).status).toBe(200)
    // The same subject again reuses the row.
    const again = await admin('/admin/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ subject: 'sso-user@example.test' }) })
    expect(again.status).toBe(200)
    expect(await central.db.sql`select 1 from users where username = 'sso-user@example.test'`).toHaveLength(1)
  })

  it('rotates keys and lists them with their states', async () => {
    const rotate = await admin('/admin/keys/rotate', { method: 'POST' })
    expect(rotate.status).toBe(200)
    const { kid } = (await rotate.json()) as { kid: string }
    const { keys } = (await (await admin('/admin/keys')).json()) as { keys: { kid: string; state: string }[] }
    expect(keys.find((k) => k.kid === kid)).toMatchObject({ state: 'next' })
    expect(keys.filter((k) => k.state === 'active')).toHaveLength(1)
    const second = await admin('/admin/keys/rotate', { method: 'POST' })
    expect(second.status).toBe(409)
  })

  it('purges sessions that ended before the retention cut-off', async () => {
    const user = await insertTestUser(central.db.sql)
    const ended = await startTestSession(central.t.deps, { user, actor: 'user' })
    const live = await startTestSession(central.t.deps, { user, actor: 'user' })
    await admin(`/admin/sessions/${ended.sessionId}`, { method: 'DELETE' })
    const purged = await purgeEndedSessions(central.db.sql, { olderThan: new Date(central.t.clock().getTime() + 1000) })
    expect(purged).toBeGreaterThanOrEqual(1)
    const ids = (await central.db.sql<{ id: string }[]>`select id from sessions where user_id = ${user.id}`).map((r) => r.id)
    expect(ids).toEqual([live.sessionId])
  })
})
