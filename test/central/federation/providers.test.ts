import { decodeJwt, type JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mapRoles, readProviderClaims } from '../../../central/federation/decide-identity'
import { IdentityProvidersError, parseIdentityProviders } from '../../../central/federation/identity-providers'
import { findProvidersOfSessions, listLinkedIdentities, unlinkIdentity } from '../../../central/federation/linked-identities'
import { safeReturnTo } from '../../../central/federation/return-to'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser } from '../../support/users'
import { CookieJar, startUpstreamProvider, type UpstreamProvider } from '../../support/upstream-provider'
import { APP_ORIGIN, browse, buildFederationApp, CENTRAL, signIn, type FederationTestApp } from './federation-harness'

describe('IDENTITY_PROVIDERS', () => {
  const valid = { id: 'corp', issuer: 'https://id.example.com', client_id: 'c', client_secret: 's' }

  it('fills in the defaults', () => {
    const [provider] = parseIdentityProviders(JSON.stringify([valid]))
    expect(provider).toMatchObject({ scopes: 'openid email profile', require_existing_user: false, link_by_email: false, require_verified_email: true, timeout_ms: 10_000 })
  })

  it.each([
    ['a duplicate id', [valid, valid], /\[1\] \(id "corp"\)\.id: duplicate provider id/],
    ['an http issuer off loopback', [{ ...valid, issuer: 'http://id.example.com' }], /\[0\] \(id "corp"\)\.issuer: must be an https URL/],
    ['neither a secret nor private_key_jwt', [{ ...valid, client_secret: undefined }], /\[0\] \(id "corp"\)/],
    ['an id that is not URL-safe', [{ ...valid, id: 'a/b' }], /\[0\] \(id "a\/b"\)\.id/],
    ['roles_claim without roles_map', [{ ...valid, roles_claim: 'groups' }], /roles_claim and roles_map go together/],
    ['portcullis:admin in roles_map', [{ ...valid, roles_claim: 'groups', roles_map: { admins: ['staff', 'portcullis:admin'] } }], /\.roles_map: roles_map maps to portcullis:admin/],
  ])('names the entry with %s', (_, entries, message) => {
    expect(() => parseIdentityProviders(JSON.stringify(entries))).toThrow(message)
  })

  it('maps to portcullis:admin only with allow_admin_role', () => {
    const [provider] = parseIdentityProviders(JSON.stringify([{ ...valid, roles_claim: 'groups', roles_map: { admins: 'portcullis:admin' }, allow_admin_role: true }]))
    expect(provider!.roles_map).toEqual({ admins: 'portcullis:admin' })
  })

  it('reads a roles claim sent as one string as one value, unless given a separator', () => {
    const roles = { roles_claim: 'groups', roles_map: { admins: 'admin', staff: 'staff' } }
    const [whole, split] = parseIdentityProviders(JSON.stringify([{ ...valid, ...roles }, { ...valid, ...roles, id: 'split', roles_claim_separator: ' ' }]))
    const claims = { sub: 'x', groups: 'not admins staff' }
    expect(readProviderClaims(claims, whole!).roleValues).toEqual(['not admins staff'])
    expect(mapRoles(whole!, readProviderClaims(claims, whole!).roleValues).asserted).toEqual(new Set())
    expect(readProviderClaims(claims, split!).roleValues).toEqual(['not', 'admins', 'staff'])
  })

  it('never echoes a client secret in its errors', () => {
    try {
      parseIdentityProviders(JSON.stringify([{ ...valid, client_secret: 'super-secret-value', timeout_ms: -1 }]))
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(IdentityProvidersError)
      expect(String(error)).not.toContain('super-secret-value')
    }
  })

  it('accepts http on a loopback issuer and private_key_jwt without a secret', () => {
    const [provider] = parseIdentityProviders(JSON.stringify([{ id: 'dev', issuer: 'http://127.0.0.1:9000', client_id: 'c', client_auth: 'private_key_jwt' }]))
    expect(provider!.client_auth).toBe('private_key_jwt')
  })
})

describe('return_to', () => {
  it.each([
    ['/orders?x=1', '/orders?x=1'],
    ['https://app.example.test/a', 'https://app.example.test/a'],
    ['https://app.example.test.evil.example/a', '/'],
    ['//evil.example', '/'],
    ['/\\evil.example', '/'],
    ['/\t/evil.example', '/'],
    ['https://user@app.example.test/', '/'],
    ['data:text/html,hi', '/'],
    [undefined, '/'],
  ])('%s → %s', (raw, expected) => {
    expect(safeReturnTo(raw, [APP_ORIGIN])).toBe(expected)
  })
})

describe('a provider with private_key_jwt, the password form and the admin data', () => {
  let db: TestDatabase
  let upstream: UpstreamProvider | undefined
  let f: FederationTestApp

  beforeAll(async () => {
    db = await createTestDatabase()
    f = await buildFederationApp(db.sql, [
      // The issuer is filled in once the provider runs; central only discovers it on first use.
      { id: 'keyed', issuer: 'http://127.0.0.1:1', client_id: 'portcullis-keyed', client_auth: 'private_key_jwt', label: 'Keyed IdP' },
    ])
  })

  afterAll(async () => {
    await upstream?.close()
    await db?.drop()
  })

  it('publishes one ES256 public key per private_key_jwt provider, with no private part', async () => {
    const response = await f.request('/auth/federation-jwks.json')
    expect(response.status).toBe(200)
    const { keys } = (await response.json()) as { keys: JWK[] }
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
    expect(keys[0]!.d).toBeUndefined()
    const [row] = await db.sql<{ sealed: Buffer }[]>`select private_jwk_sealed as sealed from federation_client_keys`
    expect(row!.sealed.toString('latin1')).not.toContain('"d"')
  })

  it('signs in at a provider that authenticates central by its published key', async () => {
    const { keys } = (await (await f.request('/auth/federation-jwks.json')).json()) as { keys: JWK[] }
    upstream = await startUpstreamProvider({
      clients: [{ client_id: 'portcullis-keyed', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys }, redirect_uris: [`${CENTRAL}/auth/callback/keyed`] }],
      accounts: [{ login: 'kim', email: 'kim@example.com', email_verified: true }],
    })
    const keyed = await buildFederationApp(db.sql, [{ id: 'keyed', issuer: upstream.issuer, client_id: 'portcullis-keyed', client_auth: 'private_key_jwt' }])
    const jar = new CookieJar()
    const response = await signIn(keyed, jar, 'keyed', 'kim')
    expect(response.status).toBe(302)
    const claims = decodeJwt(jar.get('portcullis_at')!) as { sub: string; sid: string }

    // Admin view data: the linked identity, which provider the session came from, and an audited unlink.
    expect(await listLinkedIdentities(db.sql, claims.sub)).toEqual([expect.objectContaining({ providerId: 'keyed', issuer: upstream.issuer, subject: 'kim' })])
    expect(await findProvidersOfSessions(db.sql, [claims.sid])).toEqual(new Map([[claims.sid, 'keyed']]))
    expect(await unlinkIdentity(db.sql, { userId: claims.sub, issuer: upstream.issuer, subject: 'kim', actor: 'admin:test', now: f.clock() })).toBe(true)
    expect(await listLinkedIdentities(db.sql, claims.sub)).toEqual([])
    const [audit] = await db.sql<{ details: { identity_unlinked?: unknown } }[]>`
      select details from audit_events where user_id = ${claims.sub} and actor = 'admin:test'`
    expect(audit!.details.identity_unlinked).toMatchObject({ provider: 'keyed', subject: 'kim' })
    expect(await unlinkIdentity(db.sql, { userId: claims.sub, issuer: upstream.issuer, subject: 'kim', actor: 'admin:test', now: f.clock() })).toBe(false)
  })

  it('lists the providers and, once a user has a password, the password form', async () => {
    const jar = new CookieJar()
    const before = await (await browse(f, jar, '/auth/sign-in?return_to=/home')).text()
    expect(before).toContain('Sign in with Keyed IdP')
    expect(before).not.toContain('name="password"')
    await insertTestUser(db.sql, { username: 'pat', password: 'pat-password-123' })
    const after = await browse(f, jar, '/auth/sign-in?return_to=/home')
    expect(after.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(await after.text()).toContain('name="password"')
  })

  it('signs in with the password form from an allowed origin, and refuses a cross-site post', async () => {
    const form = new URLSearchParams({ username: 'pat', password: 'pat-password-123', return_to: '/home' }).toString()
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' }
    const crossSite = await f.request('/auth/sign-in/password', { method: 'POST', headers: { ...headers, Origin: 'https://evil.example' }, body: form })
    expect(crossSite.status).toBe(403)
    const jar = new CookieJar()
    const wrong = await browse(f, jar, '/auth/sign-in/password', { method: 'POST', headers: { ...headers, Origin: CENTRAL }, body: form.replace('pat-password-123', 'nope') })
    expect(wrong.status).toBe(401)
    const ok = await browse(f, jar, '/auth/sign-in/password', { method: 'POST', headers: { ...headers, Origin: CENTRAL }, body: form })
    expect(ok.status).toBe(302)
    expect(ok.headers.get('location')).toBe('/home')
    expect(jar.get('portcullis_at')).toBeTruthy()
  })
})
