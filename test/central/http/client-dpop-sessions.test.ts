import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import * as oauth from 'oauth4webapi'
import { beforeAll, describe, expect, it } from 'vitest'
import { TEST_ADMIN_TOKEN, TEST_ISSUER, useCentralTestApp, type CentralTestFile } from '../../support/central-app'
import { bearer } from '../../support/central-requests'
import { insertTestUser, type TestUser } from '../../support/users'

type KeyPair = Awaited<ReturnType<typeof oauth.generateKeyPair>>

const PASSWORD = 'correct horse battery staple'
const central = useCentralTestApp()
const strict = useCentralTestApp({ env: { REQUIRE_REGISTERED_CLIENTS: 'true' } })

let user: TestUser
let strictUser: TestUser
beforeAll(async () => {
  user = await insertTestUser(central.db.sql, { password: PASSWORD })
  strictUser = await insertTestUser(strict.db.sql, { password: PASSWORD })
})

const as: oauth.AuthorizationServer = { issuer: TEST_ISSUER, token_endpoint: `${TEST_ISSUER}/oauth/token` }
const options = (file: CentralTestFile) => ({
  [oauth.allowInsecureRequests]: true,
  [oauth.customFetch]: (url: string, init: RequestInit) => file.t.app.request(url, init as never) as Promise<Response>,
})

/** An RFC 9449 proof for POST /auth/login, made by hand (oauth4webapi has no password login). */
async function loginProof(keyPair: KeyPair): Promise<string> {
  return await new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu: `${TEST_ISSUER}/auth/login`, iat: Math.floor(central.t.clock().getTime() / 1000) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keyPair.publicKey) })
    .sign(keyPair.privateKey)
}

async function login(file: CentralTestFile, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return await file.t.app.request('/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

async function refreshWith(refreshToken: string, keyPair: KeyPair | undefined) {
  const client: oauth.Client = { client_id: 'web' }
  const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, {
    ...options(central),
    ...(keyPair ? { DPoP: oauth.DPoP({}, keyPair) } : {}),
  })
  return await oauth.processRefreshTokenResponse(as, client, response)
}

const thumbprint = async (keyPair: KeyPair) => await calculateJwkThumbprint((await exportJWK(keyPair.publicKey)) as JWK)

describe('a session started with a DPoP proof is bound to its key', () => {
  it('binds the login, then refreshes only with a proof by the same key; another key is invalid_grant and revokes nothing', async () => {
    const key = await oauth.generateKeyPair('ES256')
    const response = await login(central, { username: user.username, password: PASSWORD }, { DPoP: await loginProof(key) })
    expect(response.status).toBe(200)
    const started = (await response.json()) as { access_token: string; refresh_token: string; token_type: string }
    expect(started.token_type).toBe('DPoP')
    expect(decodeJwt(started.access_token).cnf).toEqual({ jkt: await thumbprint(key) })

    const refreshed = await refreshWith(started.refresh_token, key)
    expect(refreshed.token_type).toBe('dpop')
    expect(decodeJwt(refreshed.access_token).cnf).toEqual({ jkt: await thumbprint(key) })

    const thief = await oauth.generateKeyPair('ES256')
    const stolen = await refreshWith(refreshed.refresh_token!, thief).catch((error: unknown) => error)
    expect(stolen).toMatchObject({ status: 400, error: 'invalid_grant' })
    const bare = await refreshWith(refreshed.refresh_token!, undefined).catch((error: unknown) => error)
    expect(bare).toMatchObject({ status: 400, error: 'invalid_grant' })

    // Neither attempt counted as reuse: the holder of the key carries on.
    const again = await refreshWith(refreshed.refresh_token!, key)
    expect(decodeJwt(again.access_token).sid).toBe(decodeJwt(started.access_token).sid)
  })

  it('accepts the bound token at central\'s own session endpoints only with a proof of its key', async () => {
    const key = await oauth.generateKeyPair('ES256')
    const response = await login(central, { username: user.username, password: PASSWORD }, { DPoP: await loginProof(key) })
    const { access_token } = (await response.json()) as { access_token: string }
    const asBearer = await central.t.app.request('/auth/sessions', { headers: bearer(access_token) })
    expect(asBearer.status).toBe(401)
    expect(asBearer.headers.get('WWW-Authenticate')).toMatch(/^DPoP error="invalid_token"/)
    const withProof = await oauth.protectedResourceRequest(access_token, 'GET', new URL(`${TEST_ISSUER}/auth/sessions`), new Headers(), null, {
      ...options(central),
      DPoP: oauth.DPoP({}, key),
    })
    expect(withProof.status).toBe(200)
    const otherKey = await oauth.protectedResourceRequest(access_token, 'GET', new URL(`${TEST_ISSUER}/auth/sessions`), new Headers(), null, {
      ...options(central),
      DPoP: oauth.DPoP({}, await oauth.generateKeyPair('ES256')),
    }).catch((error: unknown) => error)
    expect(otherKey).toMatchObject({ status: 401 })
  })

  it('keeps a session started without DPoP a Bearer session', async () => {
    const response = await login(central, { username: user.username, password: PASSWORD })
    const started = (await response.json()) as { access_token: string; token_type: string }
    expect(started.token_type).toBe('Bearer')
    expect(decodeJwt(started.access_token)).not.toHaveProperty('cnf')
  })

  it('refuses a login with an invalid proof before checking the password', async () => {
    const key = await oauth.generateKeyPair('ES256')
    const proof = await loginProof(key)
    const response = await login(central, { username: user.username, password: 'wrong password entirely' }, { DPoP: `${proof.slice(0, -4)}AAAA` })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_dpop_proof' })
  })
})

describe('REQUIRE_REGISTERED_CLIENTS=true', () => {
  async function register(body: Record<string, unknown>) {
    const response = await strict.t.app.request('/admin/clients', {
      method: 'POST',
      headers: { ...bearer(TEST_ADMIN_TOKEN), 'Content-Type': 'application/json' },
      body: JSON.stringify({ token_endpoint_auth_method: 'none', ...body }),
    })
    expect(response.status).toBe(201)
  }

  it('refuses a login for an unregistered client id, the implicit web client included', async () => {
    for (const body of [{}, { client_id: 'made-up' }]) {
      const response = await login(strict, { username: strictUser.username, password: PASSWORD, ...body })
      expect(response.status).toBe(401)
      expect(await response.json()).toMatchObject({ error: 'invalid_client' })
    }
  })

  it('accepts a registered public client allowed the password flow, and refreshes for it', async () => {
    await register({ client_id: 'spa', grant_types: ['password', 'refresh_token'] })
    const response = await login(strict, { username: strictUser.username, password: PASSWORD, client_id: 'spa' })
    expect(response.status).toBe(200)
    const { refresh_token } = (await response.json()) as { refresh_token: string }
    const client: oauth.Client = { client_id: 'spa' }
    const refreshed = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refresh_token, options(strict))
    expect((await oauth.processRefreshTokenResponse(as, client, refreshed)).access_token).toBeTruthy()
  })

  it('refuses a registered client not allowed the password flow (unauthorized_client)', async () => {
    await register({ client_id: 'refresh-only', grant_types: ['refresh_token'] })
    const response = await login(strict, { username: strictUser.username, password: PASSWORD, client_id: 'refresh-only' })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'unauthorized_client' })
  })

  it('refuses a refresh with the implicit client id', async () => {
    const response = await strict.t.app.request('/oauth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) }).toString(),
    })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
  })
})
