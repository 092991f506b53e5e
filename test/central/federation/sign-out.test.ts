import { randomUUID } from 'node:crypto'
import { decodeJwt, generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { edgeWouldReject } from '../../support/central-requests'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'
import { CookieJar, startUpstreamProvider, type UpstreamProvider } from '../../support/upstream-provider'
import { browse, buildFederationApp, CENTRAL, CLIENT_SECRET, EDGE_FEED_TOKEN, signIn, type FederationTestApp } from './federation-harness'

const EVENT = 'http://schemas.openid.net/event/backchannel-logout'

let db: TestDatabase
let upstream: UpstreamProvider
let f: FederationTestApp

beforeAll(async () => {
  db = await createTestDatabase()
  upstream = await startUpstreamProvider({
    clients: [
      {
        client_id: 'portcullis',
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${CENTRAL}/auth/callback/demo`],
        post_logout_redirect_uris: [`${CENTRAL}/`, `${CENTRAL}/bye`],
        backchannel_logout_uri: `${CENTRAL}/auth/backchannel-logout/demo`,
      },
    ],
    accounts: [
      { login: 'alice', email: 'alice@example.com', email_verified: true },
      { login: 'bob', email: 'bob@example.com', email_verified: true },
    ],
  })
  f = await buildFederationApp(db.sql, [
    { id: 'demo', issuer: upstream.issuer, client_id: 'portcullis', client_secret: CLIENT_SECRET, client_auth: 'client_secret_basic', grant: { audiences: ['https://api.example.test'], scopes: ['read'] } },
  ])
})

afterAll(async () => {
  await upstream?.close()
  await db?.drop()
})

let jar: CookieJar
beforeEach(() => {
  jar = new CookieJar()
})

async function sessionRevoked(sessionId: string): Promise<boolean> {
  const [row] = await db.sql<{ revoked_at: Date | null }[]>`select revoked_at from sessions where id = ${sessionId}`
  return row!.revoked_at !== null
}

async function logoutToken(claims: Record<string, unknown>, options: { key?: CryptoKey; kid?: string } = {}): Promise<string> {
  const now = Math.floor(f.clock().getTime() / 1000)
  return await new SignJWT({ events: { [EVENT]: {} }, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? upstream.kid, typ: 'logout+jwt' })
    .setIssuer(upstream.issuer)
    .setAudience((claims.aud as string | undefined) ?? 'portcullis')
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .sign(options.key ?? upstream.signingKey)
}

async function postLogout(token: string | undefined): Promise<Response> {
  return await f.request('/auth/backchannel-logout/demo', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: token === undefined ? '' : new URLSearchParams({ logout_token: token }).toString(),
  })
}

describe('silent renewal at /auth/sign-in', () => {
  it('rotates a valid refresh cookie and redirects to return_to without the provider', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const oldRefresh = jar.get('portcullis_rt')!
    const sid = decodeJwt(jar.get('portcullis_at')!).sid
    const response = await browse(f, jar, '/auth/sign-in?return_to=%2Fagain')
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/again')
    expect(jar.get('portcullis_rt')).not.toBe(oldRefresh)
    expect(decodeJwt(jar.get('portcullis_at')!).sid).toBe(sid)
  })

  it('gives two tabs renewing at once the same successor', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const tabA = jar.clone()
    const tabB = jar.clone()
    const [a, b] = await Promise.all([browse(f, tabA, '/auth/sign-in?return_to=/a'), browse(f, tabB, '/auth/sign-in?return_to=/b')])
    expect([a.status, b.status]).toEqual([302, 302])
    expect(tabA.get('portcullis_rt')).toBe(tabB.get('portcullis_rt'))
    expect(await sessionRevoked(decodeJwt(jar.get('portcullis_at')!).sid as string)).toBe(false)
  })

  it('keeps the cookies of a session it may not renew (bound to a DPoP key) and shows the sign-in page', async () => {
    const user = await insertTestUser(db.sql)
    const tokens = await startTestSession(f.deps, { user, actor: 'user', dpopJkt: 'A'.repeat(43) })
    const response = await f.request('/auth/sign-in?return_to=/x', { headers: { cookie: `portcullis_rt=${tokens.refreshToken}` } })
    expect(response.status).toBe(200)
    expect(response.headers.getSetCookie()).toEqual([])
    expect(await sessionRevoked(tokens.sessionId)).toBe(false)
  })

  it('clears the cookies of a session that is over', async () => {
    const user = await insertTestUser(db.sql)
    const tokens = await startTestSession(f.deps, { user, actor: 'user' })
    await db.sql`update sessions set revoked_at = now(), revoked_reason = 'test' where id = ${tokens.sessionId}`
    const response = await f.request('/auth/sign-in?return_to=/x', { headers: { cookie: `portcullis_rt=${tokens.refreshToken}` } })
    expect(response.status).toBe(200)
    expect(response.headers.getSetCookie().filter((c) => c.startsWith('portcullis_rt=;'))).not.toHaveLength(0)
  })

  it('shows the sign-in page when the refresh cookie is no longer valid', async () => {
    const response = await browse(f, jar, '/auth/sign-in?return_to=/x', { headers: { cookie: 'portcullis_rt=not-a-valid-token' } })
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toContain('href="/auth/sign-in/demo?return_to=%2Fx"')
  })
})

describe('sign-out', () => {
  it('revokes the session, clears the cookies and continues to the provider\'s end_session_endpoint', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const sid = decodeJwt(jar.get('portcullis_at')!).sid as string
    const response = await browse(f, jar, '/auth/sign-out?return_to=%2Fbye', { headers: { 'Sec-Fetch-Site': 'same-origin' } })
    expect(response.status).toBe(302)
    const location = new URL(response.headers.get('location')!)
    expect(location.origin).toBe(upstream.issuer)
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${CENTRAL}/bye`)
    expect(location.searchParams.get('id_token_hint')).toBeTruthy()
    expect(await sessionRevoked(sid)).toBe(true)
    expect(jar.get('portcullis_at')).toBeUndefined()
    expect(jar.get('portcullis_rt')).toBeUndefined()
    // The provider accepts the request (it shows its logout confirmation).
    const atProvider = await fetch(location, { redirect: 'manual' })
    expect(atProvider.status).toBe(200)
  })

  it('without a session just redirects to return_to', async () => {
    const response = await browse(f, jar, '/auth/sign-out?return_to=https://evil.example/', { headers: { 'Sec-Fetch-Site': 'none' } })
    expect(response.headers.get('location')).toBe('/')
  })

  it.each([['cross-site'], ['same-site'], [undefined]])('asks before signing out when the link came from elsewhere (Sec-Fetch-Site: %s)', async (site) => {
    await signIn(f, jar, 'demo', 'alice')
    const sid = decodeJwt(jar.get('portcullis_at')!).sid as string
    const response = await browse(f, jar, '/auth/sign-out?return_to=%2Fbye', { headers: site ? { 'Sec-Fetch-Site': site } : {} })
    expect(response.status).toBe(200)
    expect(response.headers.getSetCookie()).toEqual([])
    const html = await response.text()
    expect(html).toContain('<form method="post" action="/auth/sign-out">')
    expect(html).toContain('name="return_to" value="/bye"')
    expect(response.headers.get('content-security-policy')).toContain(`form-action 'self'`)
    expect(response.headers.get('content-security-policy')).toContain(new URL(upstream.issuer).origin)
    expect(await sessionRevoked(sid)).toBe(false)
  })

  it('signs out when the confirmation is posted from this origin', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const sid = decodeJwt(jar.get('portcullis_at')!).sid as string
    const response = await browse(f, jar, '/auth/sign-out', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Sec-Fetch-Site': 'same-origin', Origin: CENTRAL },
      body: 'return_to=%2Fbye',
    })
    expect(response.status).toBe(302)
    expect(new URL(response.headers.get('location')!).searchParams.get('post_logout_redirect_uri')).toBe(`${CENTRAL}/bye`)
    expect(await sessionRevoked(sid)).toBe(true)
    expect(jar.get('portcullis_rt')).toBeUndefined()
  })

  it('refuses a sign-out posted from another site', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const sid = decodeJwt(jar.get('portcullis_at')!).sid as string
    const response = await browse(f, jar, '/auth/sign-out', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' },
      body: 'return_to=%2Fbye',
    })
    expect(response.status).toBe(403)
    expect(await sessionRevoked(sid)).toBe(false)
    expect(jar.get('portcullis_rt')).toBeTruthy()
  })
})

describe('a new sign-in in the same browser', () => {
  it('revokes the session whose refresh cookie the browser still held', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const first = decodeJwt(jar.get('portcullis_at')!).sid as string
    expect((await signIn(f, jar, 'demo', 'bob')).status).toBe(302)
    const second = decodeJwt(jar.get('portcullis_at')!).sid as string
    expect(second).not.toBe(first)
    expect(await sessionRevoked(first)).toBe(true)
    expect(await sessionRevoked(second)).toBe(false)
  })
})

describe('back-channel logout', () => {
  it('revokes the sessions of the provider session named by sid, and the edge feed lists them', async () => {
    await signIn(f, jar, 'demo', 'bob')
    const accessToken = jar.get('portcullis_at')!
    const sid = decodeJwt(accessToken).sid as string
    const [row] = await db.sql<{ provider_sid: string | null }[]>`select provider_sid from federated_sessions where session_id = ${sid}`
    expect(row!.provider_sid).toBeTruthy()
    const response = await postLogout(await logoutToken({ sid: row!.provider_sid }))
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await sessionRevoked(sid)).toBe(true)
    expect(await edgeWouldReject(f, EDGE_FEED_TOKEN, accessToken)).toBe(true)
  })

  it('revokes every session of the subject from that provider when only sub is given', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const other = new CookieJar()
    await signIn(f, other, 'demo', 'alice')
    const sids = [decodeJwt(jar.get('portcullis_at')!).sid as string, decodeJwt(other.get('portcullis_at')!).sid as string]
    expect((await postLogout(await logoutToken({ sub: 'alice' }))).status).toBe(200)
    for (const sid of sids) expect(await sessionRevoked(sid)).toBe(true)
  })

  async function expectRefused(token: string | undefined, sid: string) {
    const response = await postLogout(token)
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ error: 'invalid_request' })
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await sessionRevoked(sid)).toBe(false)
  }

  async function liveSession(): Promise<string> {
    const browser = new CookieJar()
    await signIn(f, browser, 'demo', 'bob')
    return decodeJwt(browser.get('portcullis_at')!).sid as string
  }

  it('refuses a logout token with a forged signature', async () => {
    const sid = await liveSession()
    const { privateKey } = await generateKeyPair('RS256')
    await expectRefused(await logoutToken({ sub: 'bob' }, { key: privateKey }), sid)
  })

  it('refuses a logout token for another client', async () => {
    const sid = await liveSession()
    await expectRefused(await logoutToken({ sub: 'bob', aud: 'someone-else' }), sid)
  })

  it('refuses a replayed logout token (same jti)', async () => {
    const sid = await liveSession()
    const token = await logoutToken({ sub: 'nobody-in-particular' })
    expect((await postLogout(token)).status).toBe(200)
    const replay = await logoutToken({ sub: 'bob', jti: decodeJwt(token).jti })
    await expectRefused(replay, sid)
  })

  it('refuses a logout token with a nonce (an ID token is not a logout token)', async () => {
    const sid = await liveSession()
    await expectRefused(await logoutToken({ sub: 'bob', nonce: 'n' }), sid)
  })

  it('refuses a logout token without the back-channel logout event', async () => {
    const sid = await liveSession()
    await expectRefused(await logoutToken({ sub: 'bob', events: { 'http://example.test/other': {} } }), sid)
  })

  it('refuses a logout token naming neither sid nor sub', async () => {
    const sid = await liveSession()
    await expectRefused(await logoutToken({}), sid)
  })

  it('refuses a request without logout_token', async () => {
    const sid = await liveSession()
    await expectRefused(undefined, sid)
  })
})
