import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { TEST_ISSUER, useCentralTestApp } from '../../support/central-app'
import { login } from '../../support/central-requests'
import { insertTestUser, type TestUser } from '../../support/users'

const PASSWORD = 'correct horse battery staple'
const central = useCentralTestApp()

let user: TestUser
beforeAll(async () => {
  user = await insertTestUser(central.db.sql, { password: PASSWORD })
})

type KeyPair = { publicKey: CryptoKey; privateKey: CryptoKey }

async function proof(keyPair: KeyPair, path: string): Promise<string> {
  return await new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu: `${TEST_ISSUER}${path}`, iat: Math.floor(central.t.clock().getTime() / 1000) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keyPair.publicKey) })
    .sign(keyPair.privateKey)
}

async function signIn(body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await login(central.t, { username: user.username, password: PASSWORD, ...body }, headers)
  expect(response.status, await response.clone().text()).toBe(200)
  const tokens = (await response.json()) as { access_token: string; refresh_token: string }
  const sid = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()).sid as string
  return { ...tokens, sid }
}

async function revoke(form: Record<string, string>, headers: Record<string, string> = {}) {
  return await central.t.app.request('/oauth/revoke', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  })
}

const isRevoked = async (sid: string) =>
  (await central.db.sql<{ revoked_at: Date | null }[]>`select revoked_at from sessions where id = ${sid}`)[0]!.revoked_at !== null

describe('RFC 7009 revocation ends a session only for the client it was issued to', () => {
  it('answers 200 but revokes nothing when another client presents the refresh token or the access token', async () => {
    const session = await signIn({ client_id: 'mobile-app' })
    for (const token of [session.refresh_token, session.access_token]) {
      expect((await revoke({ token })).status).toBe(200)
      expect((await revoke({ token, client_id: 'other-app' })).status).toBe(200)
    }
    expect(await isRevoked(session.sid)).toBe(false)
    expect((await revoke({ token: session.refresh_token, client_id: 'mobile-app' })).status).toBe(200)
    expect(await isRevoked(session.sid)).toBe(true)
  })

  it('revokes by access token for the client it was issued to', async () => {
    const session = await signIn()
    expect((await revoke({ token: session.access_token })).status).toBe(200)
    expect(await isRevoked(session.sid)).toBe(true)
  })
})

describe('RFC 7009 revocation of a DPoP-bound session', () => {
  it('revokes nothing without a proof, or with a proof by another key, and revokes with a proof by the bound key', async () => {
    const key = await generateKeyPair('ES256')
    const session = await signIn({}, { DPoP: await proof(key, '/auth/login') })
    const thief = await generateKeyPair('ES256')
    for (const token of [session.refresh_token, session.access_token]) {
      expect((await revoke({ token })).status).toBe(200)
      expect((await revoke({ token }, { DPoP: await proof(thief, '/oauth/revoke') })).status).toBe(200)
    }
    expect(await isRevoked(session.sid)).toBe(false)
    expect((await revoke({ token: session.refresh_token }, { DPoP: await proof(key, '/oauth/revoke') })).status).toBe(200)
    expect(await isRevoked(session.sid)).toBe(true)
  })
})
