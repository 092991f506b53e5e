import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { startTestSession } from '../../support/central-sessions'
import { useCentralTestApp } from '../../support/central-app'
import { bearer, edgeWouldReject, login, patchUser, refresh } from '../../support/central-requests'
import { insertTestUser, type TestUser } from '../../support/users'

const PASSWORD = 'correct horse battery staple'
const FEED_TOKEN = 'edge-feed-token-0123456789abcdef'
const ADMIN_ROLE = 'portcullis:admin'

const central = useCentralTestApp({ env: { EDGE_FEED_TOKEN: FEED_TOKEN } })
// Another console admin (with a password), so taking the role from the admins these tests create never meets the last-admin rule.
beforeAll(() => insertTestUser(central.db.sql, { password: 'spare-admin-password', roles: [ADMIN_ROLE] }))

type Tokens = { access_token: string; refresh_token: string; scope: string }
type Claims = { aud: string[]; scope: string; roles?: string[]; iat: number; sub: string }

async function signIn(user: TestUser, password = PASSWORD): Promise<Tokens> {
  const response = await login(central.t, { username: user.username, password })
  expect(response.status).toBe(200)
  return (await response.json()) as Tokens
}

async function refreshed(refreshToken: string, extra: Record<string, string> = {}): Promise<Tokens> {
  const response = await refresh(central.t, refreshToken, extra)
  expect(response.status).toBe(200)
  return (await response.json()) as Tokens
}

const claimsOf = (tokens: Tokens) => decodeJwt(tokens.access_token) as unknown as Claims


const fetchFeed = (headers: Record<string, string> = {}) =>
  central.t.app.request('/edge/revocations', { headers: { ...bearer(FEED_TOKEN), ...headers } })

const admin = () =>
  insertTestUser(central.db.sql, { password: PASSWORD, roles: [ADMIN_ROLE], scopes: ['read', 'write'], audiences: ['admin-api', 'api'] })

describe('PATCH /admin/users removing grants', () => {
  it('takes the removed role, scopes and audiences from the next refresh, keeps the session, and has the edge drop the wider access token', async () => {
    const user = await admin()
    const before = await signIn(user)
    expect(claimsOf(before)).toMatchObject({ roles: [ADMIN_ROLE], scope: 'read write', aud: ['admin-api', 'api'] })

    const change = await patchUser(central.t, user.username, { replace: { roles: [], scopes: ['read'], audiences: ['api'] } })
    expect(change).toMatchObject({ sessions_revoked: 0, sessions_narrowed: 1 })
    expect(change.not_before).not.toBeNull()
    expect(await edgeWouldReject(central.t, FEED_TOKEN, before.access_token)).toBe(true)

    central.t.clock.advance(1)
    const after = await refreshed(before.refresh_token)
    expect(claimsOf(after).roles).toBeUndefined()
    expect(claimsOf(after)).toMatchObject({ scope: 'read', aud: ['api'] })
    expect(after.scope).toBe('read')
    expect(await edgeWouldReject(central.t, FEED_TOKEN, after.access_token)).toBe(false)
    expect((await refresh(central.t, after.refresh_token, { resource: 'admin-api' })).status).toBe(400)
    const [session] = await central.db.sql<{ audiences: string[]; scopes: string[]; roles: string[] }[]>`
      select audiences, scopes, roles from sessions where user_id = ${user.id}`
    expect(session).toEqual({ audiences: ['api'], scopes: ['read'], roles: [] })
  })

  it('does not give a removed grant back to an existing session when the user gets it again; a new login has it', async () => {
    const user = await admin()
    const tokens = await signIn(user)
    await patchUser(central.t, user.username, { remove: { roles: [ADMIN_ROLE] } })
    const regranted = await patchUser(central.t, user.username, { add: { roles: [ADMIN_ROLE] } })
    expect(regranted).toMatchObject({ sessions_revoked: 0, sessions_narrowed: 0 })
    central.t.clock.advance(1)
    expect(claimsOf(await refreshed(tokens.refresh_token)).roles).toBeUndefined()
    expect(claimsOf(await signIn(user)).roles).toEqual([ADMIN_ROLE])
  })

  it('mints within the user\'s current grant at refresh even when the session row still holds more', async () => {
    const user = await admin()
    const tokens = await signIn(user)
    // A grant removed without changeUser (a direct edit): the refresh alone must bound it.
    await central.db.sql`update users set roles = '{}', scopes = '{read}', audiences = '{api}' where id = ${user.id}`
    const after = claimsOf(await refreshed(tokens.refresh_token))
    expect(after.roles).toBeUndefined()
    expect(after).toMatchObject({ scope: 'read', aud: ['api'] })
  })

  it('starts a session within what the user holds at that moment, whatever grant the caller read before', async () => {
    const user = await admin()
    await central.db.sql`update users set roles = '{}', scopes = '{read}' where id = ${user.id}`
    // `user` still carries the grant read before the change, as a login's does during argon2.
    const tokens = await startTestSession(central.t.deps, { user, actor: 'user' })
    const claims = decodeJwt(tokens.accessToken) as unknown as Claims
    expect(claims.roles).toBeUndefined()
    expect(claims.scope).toBe('read')
  })

  it('publishes a new feed version when a listed user\'s not_before moves between the other users\' markers', async () => {
    const user = await admin()
    const tokens = await signIn(user)
    const others = [await insertTestUser(central.db.sql), await insertTestUser(central.db.sql)]
    const now = central.t.clock().getTime()
    await central.db.sql`update users set not_before = ${new Date(now - 60_000)} where id = ${others[0]!.id}`
    await central.db.sql`update users set not_before = ${new Date(now + 60_000)} where id = ${others[1]!.id}`
    await central.db.sql`update users set not_before = ${new Date(now - 30_000)} where id = ${user.id}`
    const etag = (await fetchFeed()).headers.get('ETag')!
    expect((await fetchFeed({ 'If-None-Match': etag })).status).toBe(304)

    await patchUser(central.t, user.username, { remove: { scopes: ['write'] } })
    const after = await fetchFeed({ 'If-None-Match': etag })
    expect(after.status).toBe(200)
    expect(await edgeWouldReject(central.t, FEED_TOKEN, tokens.access_token)).toBe(true)
  })
})

describe('PATCH /admin/users adding grants', () => {
  it('does not widen existing sessions and leaves their access tokens alone', async () => {
    const user = await insertTestUser(central.db.sql, { password: PASSWORD, scopes: ['read'], audiences: ['api'] })
    const tokens = await signIn(user)
    const change = await patchUser(central.t, user.username, { add: { scopes: ['write'], audiences: ['billing'], roles: [ADMIN_ROLE] } })
    expect(change).toMatchObject({ sessions_revoked: 0, sessions_narrowed: 0, not_before: null })
    const after = claimsOf(await refreshed(tokens.refresh_token))
    expect(after).toMatchObject({ scope: 'read', aud: ['api'] })
    expect(after.roles).toBeUndefined()
  })
})

describe('PATCH /admin/users with a new password', () => {
  it('revokes every session of the user in the same change; the new password logs in', async () => {
    const user = await admin()
    const sessions = [await signIn(user), await signIn(user)]
    const change = await patchUser(central.t, user.username, { password: 'a brand new password', replace: { roles: [], scopes: ['read'], audiences: ['api'] } })
    expect(change).toMatchObject({ sessions_revoked: 2, sessions_narrowed: 0 })
    for (const s of sessions) {
      const response = await refresh(central.t, s.refresh_token)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
      expect(await edgeWouldReject(central.t, FEED_TOKEN, s.access_token)).toBe(true)
    }
    expect((await login(central.t, { username: user.username, password: PASSWORD })).status).toBe(401)
    central.t.clock.advance(1)
    expect(claimsOf(await signIn(user, 'a brand new password'))).toMatchObject({ scope: 'read', aud: ['api'] })
  })
})
