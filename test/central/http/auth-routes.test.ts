import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCentralApp, TEST_ISSUER, type CentralTestApp } from '../../support/central-app'
import { bearer, login, refresh } from '../../support/central-requests'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser, type TestUser } from '../../support/users'

let db: TestDatabase
let t: CentralTestApp
let alice: TestUser
const PASSWORD = 'correct horse battery staple'
const ORIGIN = 'https://app.example.test'

beforeAll(async () => {
  db = await createTestDatabase()
  t = await buildCentralApp(db.sql, { env: { ALLOWED_ORIGINS: ORIGIN, LOGIN_MAX_FAILURES_PER_USERNAME: '3' } })
  alice = await insertTestUser(db.sql, { password: PASSWORD, scopes: ['read'] })
})
afterAll(() => db.drop())

type Tokens = { access_token: string; refresh_token: string; expires_in: number; scope: string; token_type: string }
async function signIn(user = alice): Promise<Tokens> {
  const response = await login(t, { username: user.username, password: PASSWORD })
  expect(response.status).toBe(200)
  return (await response.json()) as Tokens
}

/** Cookie header from Set-Cookie lines for the given path (what a browser would send there). */
function cookiesFor(response: Response, path: string): string {
  return response.headers
    .getSetCookie()
    .filter((line) => new RegExp(`Path=${path}(;|$)`).test(line) && !/Max-Age=0/.test(line))
    .map((line) => line.split(';')[0])
    .join('; ')
}

describe('POST /auth/login', () => {
  it('starts a session and returns a token pair', async () => {
    const body = await signIn()
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'read' })
    expect(decodeJwt(body.access_token)).toMatchObject({ sub: alice.id, iss: TEST_ISSUER, client_id: 'web' })
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{91}$/)
  })

  it('answers 401 invalid_credentials for a wrong password and for an unknown user alike', async () => {
    const user = await insertTestUser(db.sql, { password: PASSWORD })
    const wrong = await login(t, { username: user.username, password: 'nope-nope' })
    const unknown = await login(t, { username: 'nobody-here', password: 'nope-nope' })
    for (const response of [wrong, unknown]) {
      expect(response.status).toBe(401)
      expect(await response.json()).toMatchObject({ error: 'invalid_credentials' })
    }
  })

  it('answers 429 with Retry-After when the username is throttled', async () => {
    const user = await insertTestUser(db.sql, { password: PASSWORD })
    for (let i = 0; i < 3; i++) await login(t, { username: user.username, password: 'wrong-password' })
    const response = await login(t, { username: user.username, password: PASSWORD })
    expect(response.status).toBe(429)
    expect(Number(response.headers.get('Retry-After'))).toBeGreaterThan(0)
  })

  it('answers 400 for malformed JSON and 415 for a form body', async () => {
    const malformed = await t.app.request('/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"username":' })
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toMatchObject({ error: 'invalid_request' })
    const form = await t.app.request('/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=a&password=b' })
    expect(form.status).toBe(415)
  })

  it('answers 400 for a missing password and 401 for SQL-looking input', async () => {
    const missing = await login(t, { username: 'alice' })
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' })
    const sqlish = await login(t, { username: "' or 1=1 --", password: "'; drop table users; --" })
    expect(sqlish.status).toBe(401)
  })
})

describe('caller endpoints with a Bearer access token', () => {
  it('lists the caller\'s sessions and marks the current one', async () => {
    const user = await insertTestUser(db.sql, { password: PASSWORD })
    const a = await signIn(user)
    await signIn(user)
    const response = await t.app.request('/auth/sessions', { headers: bearer(a.access_token) })
    expect(response.status).toBe(200)
    const { sessions } = (await response.json()) as { sessions: { id: string; current: boolean; state: string; client_id: string }[] }
    expect(sessions).toHaveLength(2)
    expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([decodeJwt(a.access_token).sid])
    expect(sessions.every((s) => s.state === 'active' && s.client_id === 'web')).toBe(true)
  })

  it('answers 401 with a Bearer challenge without a token, and invalid_token for a forged one', async () => {
    const none = await t.app.request('/auth/sessions')
    expect(none.status).toBe(401)
    expect(none.headers.get('WWW-Authenticate')).toMatch(/^Bearer realm=/)
    const forged = await t.app.request('/auth/sessions', { headers: bearer('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.') })
    expect(forged.status).toBe(401)
    expect(await forged.json()).toMatchObject({ error: 'invalid_token' })
  })

  it('answers 401 with a Bearer challenge on every caller endpoint when no credentials are sent (RFC 6750 §3.1)', async () => {
    for (const [method, path] of [['POST', '/auth/logout'], ['POST', '/auth/logout-all'], ['GET', '/auth/sessions']] as const) {
      const response = await t.app.request(path, { method })
      expect(response.status, `${method} ${path}`).toBe(401)
      expect(response.headers.get('WWW-Authenticate'), `${method} ${path}`).toMatch(/^Bearer realm=/)
      expect(await response.json()).toMatchObject({ error: 'invalid_token' })
    }
  })

  it('logs out this session only: its refresh token dies, the other session lives', async () => {
    const user = await insertTestUser(db.sql, { password: PASSWORD })
    const a = await signIn(user)
    const b = await signIn(user)
    const response = await t.app.request('/auth/logout', { method: 'POST', headers: bearer(a.access_token) })
    expect(response.status).toBe(204)
    expect((await refresh(t, a.refresh_token)).status).toBe(400)
    expect((await refresh(t, b.refresh_token)).status).toBe(200)
    expect((await t.app.request('/auth/sessions', { headers: bearer(a.access_token) })).status).toBe(401)
  })

  it('logs out everywhere: every chain dead and the user\'s not-before set', async () => {
    const user = await insertTestUser(db.sql, { password: PASSWORD })
    const sessions = [await signIn(user), await signIn(user), await signIn(user)]
    const response = await t.app.request('/auth/logout-all', { method: 'POST', headers: bearer(sessions[0]!.access_token) })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ revoked: 3 })
    for (const s of sessions) {
      const r = await refresh(t, s.refresh_token)
      expect(r.status).toBe(400)
      expect(await r.json()).toMatchObject({ error: 'invalid_grant' })
    }
    const [row] = await db.sql<{ not_before: Date | null }[]>`select not_before from users where id = ${user.id}`
    expect(row!.not_before).not.toBeNull()
    const events = await db.sql<{ session_id: string }[]>`select session_id from audit_events where user_id = ${user.id} and event_type = 'session.revoked' and actor = 'user'`
    expect(events.map((e) => e.session_id).sort()).toEqual(sessions.map((s) => decodeJwt(s.access_token).sid).sort())
    const [summary] = await db.sql<{ details: { sessions: number } }[]>`select details from audit_events where user_id = ${user.id} and event_type = 'user.sessions_revoked'`
    expect(summary!.details.sessions).toBe(3)
  })

  it('revokes one of the caller\'s own sessions, but not another user\'s', async () => {
    const user = await insertTestUser(db.sql, { password: PASSWORD })
    const mine = await signIn(user)
    const other = await signIn(user)
    const stranger = await signIn(await insertTestUser(db.sql, { password: PASSWORD }))
    const strangerSid = decodeJwt(stranger.access_token).sid as string
    const denied = await t.app.request(`/auth/sessions/${strangerSid}`, { method: 'DELETE', headers: bearer(mine.access_token) })
    expect(denied.status).toBe(404)
    expect((await refresh(t, stranger.refresh_token)).status).toBe(200)
    const ok = await t.app.request(`/auth/sessions/${decodeJwt(other.access_token).sid}`, { method: 'DELETE', headers: bearer(mine.access_token) })
    expect(ok.status).toBe(204)
    expect((await refresh(t, other.refresh_token)).status).toBe(400)
    const bad = await t.app.request('/auth/sessions/not-a-uuid', { method: 'DELETE', headers: bearer(mine.access_token) })
    expect(bad.status).toBe(400)
  })
})

describe('POST /oauth/revoke (RFC 7009)', () => {
  const revoke = (body: string) =>
    t.app.request('/oauth/revoke', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body })

  it('revokes the session of a refresh token', async () => {
    const s = await signIn()
    const response = await revoke(`token=${s.refresh_token}&token_type_hint=refresh_token`)
    expect(response.status).toBe(200)
    expect((await refresh(t, s.refresh_token)).status).toBe(400)
  })

  it('revokes the session of an access token', async () => {
    const s = await signIn()
    expect((await revoke(`token=${s.access_token}`)).status).toBe(200)
    expect((await refresh(t, s.refresh_token)).status).toBe(400)
  })

  it('answers 200 for an unknown token and invalid_request without one', async () => {
    expect((await revoke(`token=${'B'.repeat(43)}`)).status).toBe(200)
    expect((await revoke('token=garbage.not.jwt')).status).toBe(200)
    const missing = await revoke('token_type_hint=refresh_token')
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' })
  })
})

describe('browser cookie flow', () => {
  it('sets HttpOnly SameSite=Lax cookies on login and keeps tokens out of the body', async () => {
    const response = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { Origin: ORIGIN })
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).not.toHaveProperty('refresh_token')
    expect(body).not.toHaveProperty('access_token')
    const lines = response.headers.getSetCookie()
    const at = lines.find((l) => l.startsWith('portcullis_at='))!
    expect(at).toMatch(/HttpOnly/)
    expect(at).toMatch(/SameSite=Lax/)
    expect(at).toMatch(/Secure/)
    expect(at).toMatch(/Path=\//)
    const rt = lines.filter((l) => l.startsWith('portcullis_rt='))
    expect(rt.map((l) => /Path=([^;]+)/.exec(l)![1]).sort()).toEqual(['/auth', '/oauth'])
    for (const line of rt) {
      expect(line).toMatch(/HttpOnly/)
      expect(line).toMatch(/SameSite=Lax/)
    }
  })

  it('also opts into cookies with ?cookie=1', async () => {
    const response = await t.app.request('/auth/login?cookie=1', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: ORIGIN },
      body: JSON.stringify({ username: alice.username, password: PASSWORD }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.getSetCookie().some((l) => l.startsWith('portcullis_rt='))).toBe(true)
  })

  it('refreshes from the cookie with an allowed Origin and rotates the cookie', async () => {
    const loggedIn = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { Origin: ORIGIN })
    const cookie = cookiesFor(loggedIn, '/oauth')
    const response = await refresh(t, undefined, {}, { Cookie: cookie, Origin: ORIGIN })
    expect(response.status).toBe(200)
    const rotated = cookiesFor(response, '/oauth')
    expect(rotated).toMatch(/^portcullis_rt=/)
    expect(rotated).not.toBe(cookie)
  })

  it('refuses cookie requests without an Origin or from a foreign Origin (CSRF)', async () => {
    const loggedIn = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { Origin: ORIGIN })
    const cookie = cookiesFor(loggedIn, '/oauth')
    const attempts: Record<string, string>[] = [{ Cookie: cookie }, { Cookie: cookie, Origin: 'https://evil.example' }]
    for (const headers of attempts) {
      const response = await refresh(t, undefined, {}, headers)
      expect(response.status).toBe(403)
    }
    // Nothing was spent: the legitimate page can still refresh.
    expect((await refresh(t, undefined, {}, { Cookie: cookie, Origin: ORIGIN })).status).toBe(200)
    const csrfLogin = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { Origin: 'https://evil.example' })
    expect(csrfLogin.status).toBe(403)
  })

  it('accepts the access-token cookie for reads and needs the Origin for changes', async () => {
    const loggedIn = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { Origin: ORIGIN })
    const atCookie = cookiesFor(loggedIn, '/')
    const list = await t.app.request('/auth/sessions', { headers: { Cookie: atCookie } })
    expect(list.status).toBe(200)
    const foreign = await t.app.request('/auth/logout-all', { method: 'POST', headers: { Cookie: atCookie, Origin: 'https://evil.example' } })
    expect(foreign.status).toBe(403)
  })

  it('takes Fetch Metadata first: same-origin passes without Origin, cross-site is refused even with an allowed Origin', async () => {
    const loggedIn = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { 'Sec-Fetch-Site': 'same-origin' })
    expect(loggedIn.status).toBe(200)
    const cookie = cookiesFor(loggedIn, '/oauth')
    const crossSite = await refresh(t, undefined, {}, { Cookie: cookie, Origin: ORIGIN, 'Sec-Fetch-Site': 'cross-site' })
    expect(crossSite.status).toBe(403)
    expect(await crossSite.json()).toMatchObject({ error: 'forbidden' })
    const sameSiteStranger = await refresh(t, undefined, {}, { Cookie: cookie, Origin: 'https://blog.example.test', 'Sec-Fetch-Site': 'same-site' })
    expect(sameSiteStranger.status).toBe(403)
    const sameSiteAllowed = await refresh(t, undefined, {}, { Cookie: cookie, Origin: ORIGIN, 'Sec-Fetch-Site': 'same-site' })
    expect(sameSiteAllowed.status).toBe(200)
    const crossSiteLogin = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { Origin: ORIGIN, 'Sec-Fetch-Site': 'cross-site' })
    expect(crossSiteLogin.status).toBe(403)
  })

  it('refuses a cookie logout that is cross-site or says nothing about its origin, with 403 not 401', async () => {
    const loggedIn = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { Origin: ORIGIN })
    const authCookie = cookiesFor(loggedIn, '/auth')
    for (const headers of [{}, { 'Sec-Fetch-Site': 'cross-site' }, { Origin: 'https://evil.example' }]) {
      const response = await t.app.request('/auth/logout', { method: 'POST', headers: { Cookie: authCookie, ...headers } })
      expect(response.status).toBe(403)
      expect(await response.json()).toMatchObject({ error: 'forbidden' })
    }
    const sameOrigin = await t.app.request('/auth/logout', { method: 'POST', headers: { Cookie: authCookie, 'Sec-Fetch-Site': 'same-origin' } })
    expect(sameOrigin.status).toBe(204)
  })

  it('logs out with the refresh cookie alone and clears the cookies', async () => {
    const loggedIn = await login(t, { username: alice.username, password: PASSWORD, cookie: true }, { Origin: ORIGIN })
    const authCookie = cookiesFor(loggedIn, '/auth')
    const noOrigin = await t.app.request('/auth/logout', { method: 'POST', headers: { Cookie: authCookie } })
    expect(noOrigin.status).toBe(403)
    const response = await t.app.request('/auth/logout', { method: 'POST', headers: { Cookie: authCookie, Origin: ORIGIN } })
    expect(response.status).toBe(204)
    expect(response.headers.getSetCookie().filter((l) => /^portcullis_(at|rt)=;.*Max-Age=0/.test(l)).length).toBe(3)
    const after = await refresh(t, undefined, {}, { Cookie: cookiesFor(loggedIn, '/oauth'), Origin: ORIGIN })
    expect(after.status).toBe(400)
    expect(await after.json()).toMatchObject({ error: 'invalid_grant' })
  })
})

describe('GET /.well-known/*', () => {
  it('serves RFC 8414 metadata naming the endpoints', async () => {
    const response = await t.app.request('/.well-known/oauth-authorization-server')
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      issuer: TEST_ISSUER,
      token_endpoint: `${TEST_ISSUER}/oauth/token`,
      revocation_endpoint: `${TEST_ISSUER}/oauth/revoke`,
      jwks_uri: `${TEST_ISSUER}/.well-known/jwks.json`,
      grant_types_supported: expect.arrayContaining(['refresh_token']),
    })
  })

  it('serves public keys only', async () => {
    const response = await t.app.request('/.well-known/jwks.json')
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] }
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) })
      expect(key).not.toHaveProperty('d')
    }
  })
})
