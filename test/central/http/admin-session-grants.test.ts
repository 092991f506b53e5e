import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer, refresh } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp()

const startAdminSession = (body: Record<string, unknown>) =>
  central.t.app.request('/admin/sessions', {
    method: 'POST',
    headers: { ...bearer(TEST_ADMIN_TOKEN), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })

describe('POST /admin/sessions grants', () => {
  it('creates a new subject holding the grant asked for, so its session keeps that grant across refreshes', async () => {
    const response = await startAdminSession({ subject: 'sso-new@example.test', audiences: ['api'], scopes: ['read'], roles: ['viewer'] })
    expect(response.status).toBe(200)
    const { refresh_token } = (await response.json()) as { refresh_token: string }
    const [user] = await central.db.sql`select audiences, scopes, roles from users where username = 'sso-new@example.test'`
    expect(user).toEqual({ audiences: ['api'], scopes: ['read'], roles: ['viewer'] })
    const refreshed = await refresh(central.t, refresh_token)
    expect(refreshed.status).toBe(200)
    const { access_token } = (await refreshed.json()) as { access_token: string }
    expect(decodeJwt(access_token)).toMatchObject({ aud: ['api'], scope: 'read', roles: ['viewer'] })
  })

  it('starts a narrower session for an existing subject', async () => {
    const user = await insertTestUser(central.db.sql, { audiences: ['api', 'billing'], scopes: ['read', 'write'] })
    const response = await startAdminSession({ subject: user.username, audiences: ['api'], scopes: ['read'] })
    expect(response.status).toBe(200)
    expect(decodeJwt(((await response.json()) as { access_token: string }).access_token)).toMatchObject({ aud: ['api'], scope: 'read' })
  })

  it('refuses a scope or role the existing subject does not hold with invalid_scope, and starts no session', async () => {
    const user = await insertTestUser(central.db.sql, { audiences: ['api'], scopes: ['read'] })
    for (const body of [{ scopes: ['read', 'write'] }, { roles: ['portcullis:admin'] }]) {
      const response = await startAdminSession({ subject: user.username, ...body })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'invalid_scope' })
    }
    expect(await central.db.sql`select 1 from sessions where user_id = ${user.id}`).toHaveLength(0)
  })

  it('refuses an audience the existing subject does not hold with invalid_target', async () => {
    const user = await insertTestUser(central.db.sql, { audiences: ['api'], scopes: ['read'] })
    const response = await startAdminSession({ subject: user.username, audiences: ['admin-api'] })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_target' })
  })
})
