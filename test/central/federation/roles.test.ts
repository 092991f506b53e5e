import { decodeJwt } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TEST_ADMIN_TOKEN } from '../../support/central-app'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser } from '../../support/users'
import { CookieJar, startUpstreamProvider, type UpstreamProvider } from '../../support/upstream-provider'
import { browse, buildFederationApp, CENTRAL, CLIENT_SECRET, signIn, type FederationTestApp } from './federation-harness'

const GRANT = { audiences: ['https://api.example.test'], scopes: ['read'], roles: ['member'] }

let db: TestDatabase
let upstream: UpstreamProvider
let f: FederationTestApp

beforeAll(async () => {
  db = await createTestDatabase()
  upstream = await startUpstreamProvider({
    clients: [{ client_id: 'portcullis', client_secret: CLIENT_SECRET, redirect_uris: ['demo', 'narrowed'].map((id) => `${CENTRAL}/auth/callback/${id}`) }],
    accounts: [
      { login: 'alice', email: 'alice@example.com', email_verified: true, groups: ['admins', 'staff'] },
      { login: 'bob', email: 'bob@example.com', email_verified: true, groups: ['admins', 'staff'] },
    ],
  })
  const base = { issuer: upstream.issuer, client_id: 'portcullis', client_secret: CLIENT_SECRET, client_auth: 'client_secret_basic', grant: GRANT, scopes: 'openid email profile groups', roles_claim: 'groups' }
  f = await buildFederationApp(db.sql, [
    { ...base, id: 'demo', roles_map: { admins: ['admin'], staff: 'staff' } },
    // The same provider after its admins entry was taken out of roles_map.
    { ...base, id: 'narrowed', roles_map: { staff: 'staff' } },
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

const tokenRoles = (accessToken: string) => ((decodeJwt(accessToken).roles as string[] | undefined) ?? []).sort()

const admin = async (method: string, path: string, body: unknown) =>
  await f.request(path, { method, headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) })

describe('roles mapped from the provider\'s claims', () => {
  it('go to the session only: the user created just in time holds the provider\'s grant', async () => {
    expect((await signIn(f, jar, 'demo', 'alice')).status).toBe(302)
    const accessToken = jar.get('portcullis_at')!
    expect(tokenRoles(accessToken)).toEqual(['admin', 'member', 'staff'])
    const [user] = await db.sql<{ roles: string[] }[]>`select roles from users where id = ${decodeJwt(accessToken).sub!}`
    expect(user!.roles).toEqual(['member'])
  })

  it('stay with the session through a refresh', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const before = jar.get('portcullis_at')!
    const renewed = await browse(f, jar, '/auth/sign-in?return_to=/app')
    expect(renewed.status).toBe(302)
    expect(jar.get('portcullis_at')).not.toBe(before)
    expect(tokenRoles(jar.get('portcullis_at')!)).toEqual(['admin', 'member', 'staff'])
  })

  it('are gone at the next sign-in once roles_map no longer maps them', async () => {
    await signIn(f, jar, 'demo', 'alice')
    expect(tokenRoles(jar.get('portcullis_at')!)).toContain('admin')
    const later = new CookieJar()
    expect((await signIn(f, later, 'narrowed', 'alice')).status).toBe(302)
    expect(tokenRoles(later.get('portcullis_at')!)).toEqual(['member', 'staff'])
  })

  it('do not reach a session an admin starts for the same username', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const response = await admin('POST', '/admin/sessions', { subject: 'alice@example.com' })
    expect(response.status).toBe(200)
    const { access_token } = (await response.json()) as { access_token: string }
    expect(tokenRoles(access_token)).toEqual(['member'])
  })

  it('stay on live sessions when an admin narrows the user', async () => {
    await signIn(f, jar, 'demo', 'bob')
    const sid = decodeJwt(jar.get('portcullis_at')!).sid as string
    expect((await admin('PATCH', '/admin/users/bob@example.com', { remove: { roles: ['member'] } })).status).toBe(200)
    const [session] = await db.sql<{ roles: string[] }[]>`select roles from sessions where id = ${sid}`
    expect(session!.roles.sort()).toEqual(['admin', 'staff'])
  })
})

describe('the last console admin', () => {
  it('is the last one with a password: a user without one holding portcullis:admin does not count', async () => {
    await admin('POST', '/admin/users', { username: 'root', password: 'root-password-1', roles: ['portcullis:admin'] })
    await insertTestUser(db.sql, { username: 'provider-made', roles: ['portcullis:admin'] })
    const response = await admin('PATCH', '/admin/users/root', { remove: { roles: ['portcullis:admin'] } })
    expect(response.status).toBe(409)
    // The user without a password may lose the role: nobody signs in to the console with it.
    expect((await admin('PATCH', '/admin/users/provider-made', { remove: { roles: ['portcullis:admin'] } })).status).toBe(200)
  })
})
