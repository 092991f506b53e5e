import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import * as oauth from 'oauth4webapi'
import { describe, expect, it } from 'vitest'
import { RevocationFeedSchema } from '../../../shared/revocation-feed'
import { TEST_ADMIN_TOKEN, TEST_ISSUER, useCentralTestApp } from '../../support/central-app'
import { bearer } from '../../support/central-requests'

const FEED_TOKEN = 'client-feed-token-0123456789abcdef'
const central = useCentralTestApp({ env: { EDGE_FEED_TOKEN: FEED_TOKEN } })

const TOKEN_URL = `${TEST_ISSUER}/oauth/token`
const as: oauth.AuthorizationServer = { issuer: TEST_ISSUER, token_endpoint: TOKEN_URL, revocation_endpoint: `${TEST_ISSUER}/oauth/revoke` }
/** oauth4webapi talks to the real app in-process; http is fine for a test issuer. */
const options = () => ({
  [oauth.allowInsecureRequests]: true,
  [oauth.customFetch]: (url: string, init: RequestInit) => central.t.app.request(url, init as never) as Promise<Response>,
})

let counter = 0
const uniqueId = (prefix: string) => `${prefix}-${++counter}`

async function registerClient(body: Record<string, unknown>): Promise<{ clientId: string; secret: string | null }> {
  const clientId = uniqueId(String(body.client_id ?? 'svc'))
  const response = await central.t.app.request('/admin/clients', {
    method: 'POST',
    headers: { ...bearer(TEST_ADMIN_TOKEN), 'Content-Type': 'application/json' },
    body: JSON.stringify({
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      audiences: ['orders', 'billing'],
      scopes: ['orders:read', 'orders:write'],
      roles: ['batch'],
      ...body,
      client_id: clientId,
    }),
  })
  expect(response.status, await response.clone().text()).toBe(201)
  const created = (await response.json()) as { client_secret: string | null }
  return { clientId, secret: created.client_secret }
}

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return await central.t.app.request(path, {
    method,
    headers: { ...bearer(TEST_ADMIN_TOKEN), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

async function clientCredentials(
  clientId: string,
  auth: oauth.ClientAuth,
  parameters: Record<string, string> = {},
  extra: { DPoP?: oauth.DPoPHandle } = {},
): Promise<oauth.TokenEndpointResponse> {
  const client: oauth.Client = { client_id: clientId }
  const response = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams(parameters), { ...options(), ...extra })
  return await oauth.processClientCredentialsResponse(as, client, response)
}

/**
 * The token endpoint's error for a request oauth4webapi sends: it throws ResponseBodyError, or
 * WWWAuthenticateChallengeError for a 401 with a challenge (a failed Basic authentication).
 */
async function refusal(promise: Promise<unknown>): Promise<{ status: number; error: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    return { status: error.status, error: ((await error.response.json()) as { error: string }).error }
  }
  expect(error).toBeInstanceOf(oauth.ResponseBodyError)
  const { status, error: code } = error as oauth.ResponseBodyError
  return { status, error: code }
}

async function privateKeyJwtClient() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  const { clientId } = await registerClient({ client_id: 'pkjwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } })
  return { clientId, privateKey: { key: privateKey, kid: 'k1' } }
}

async function feedClients(): Promise<{ client_id: string; not_before: number }[]> {
  const response = await central.t.app.request('/edge/revocations', { headers: bearer(FEED_TOKEN) })
  return RevocationFeedSchema.parse(await response.json()).clients ?? []
}

describe('client credentials grant (RFC 6749 §4.4) with oauth4webapi', () => {
  it('issues an RFC 9068 token for the client itself with client_secret_basic, and no refresh token', async () => {
    const { clientId, secret } = await registerClient({})
    const tokens = await clientCredentials(clientId, oauth.ClientSecretBasic(secret!))
    expect(tokens.token_type).toBe('bearer')
    expect(tokens.refresh_token).toBeUndefined()
    expect(tokens.expires_in).toBe(central.t.config.ACCESS_TOKEN_TTL_SECONDS)
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      iss: TEST_ISSUER,
      sub: clientId,
      client_id: clientId,
      sid: `client:${clientId}`,
      aud: ['orders', 'billing'],
      scope: 'orders:read orders:write',
      roles: ['batch'],
    })
    expect(decodeJwt(tokens.access_token)).not.toHaveProperty('cnf')
  })

  it('authenticates with client_secret_post', async () => {
    const { clientId, secret } = await registerClient({ token_endpoint_auth_method: 'client_secret_post' })
    const tokens = await clientCredentials(clientId, oauth.ClientSecretPost(secret!))
    expect(decodeJwt(tokens.access_token).sub).toBe(clientId)
  })

  it('authenticates with private_key_jwt (RFC 7523 assertion)', async () => {
    const { clientId, privateKey } = await privateKeyJwtClient()
    const tokens = await clientCredentials(clientId, oauth.PrivateKeyJwt(privateKey))
    expect(decodeJwt(tokens.access_token).client_id).toBe(clientId)
  })

  it('narrows to the requested scope and resource', async () => {
    const { clientId, secret } = await registerClient({})
    const tokens = await clientCredentials(clientId, oauth.ClientSecretBasic(secret!), { scope: 'orders:read admin', resource: 'billing' })
    expect(tokens.scope).toBe('orders:read')
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: ['billing'], scope: 'orders:read' })
  })

  it.each([
    ['a scope the client does not hold', { scope: 'admin' }, 'invalid_scope'],
    ['a resource outside its audiences', { resource: 'hr' }, 'invalid_target'],
  ])('refuses %s', async (_name, parameters, error) => {
    const { clientId, secret } = await registerClient({})
    expect(await refusal(clientCredentials(clientId, oauth.ClientSecretBasic(secret!), parameters))).toEqual({ status: 400, error })
  })

  it('refuses a client registered without the client_credentials grant (unauthorized_client)', async () => {
    const { clientId, secret } = await registerClient({ grant_types: ['refresh_token'] })
    expect(await refusal(clientCredentials(clientId, oauth.ClientSecretBasic(secret!)))).toEqual({ status: 400, error: 'unauthorized_client' })
  })

  it('refuses the refresh grant for a client registered only for client_credentials (unauthorized_client)', async () => {
    const { clientId, secret } = await registerClient({})
    const client: oauth.Client = { client_id: clientId }
    const response = await oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretBasic(secret!), 'x'.repeat(43), options())
    expect(await refusal(oauth.processRefreshTokenResponse(as, client, response))).toEqual({ status: 400, error: 'unauthorized_client' })
  })

  it('refuses client_credentials without client authentication (invalid_client)', async () => {
    const response = await central.t.app.request('/oauth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=web',
    })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
  })

  it('refuses an unsupported grant type before looking at the client', async () => {
    const response = await central.t.app.request('/oauth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=a&password=b',
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'unsupported_grant_type' })
  })

  it('answers a wrong Basic secret with 401 invalid_client and a Basic challenge', async () => {
    const { clientId } = await registerClient({})
    const response = await central.t.app.request('/oauth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${btoa(`${clientId}:wrong`)}` },
      body: 'grant_type=client_credentials',
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('WWW-Authenticate')).toMatch(/^Basic realm="portcullis"/)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
  })

  it('refuses a disabled client with 401 and lists it in the revocation feed', async () => {
    const { clientId, secret } = await registerClient({})
    const before = await clientCredentials(clientId, oauth.ClientSecretBasic(secret!))
    expect((await admin('POST', `/admin/clients/${clientId}/disable`)).status).toBe(200)
    expect(await refusal(clientCredentials(clientId, oauth.ClientSecretBasic(secret!)))).toEqual({ status: 401, error: 'invalid_client' })
    const marker = (await feedClients()).find((entry) => entry.client_id === clientId)
    expect(marker!.not_before).toBeGreaterThan(decodeJwt(before.access_token).iat! - 1)
  })

  it('refuses the old secret after a rotation; the new one works and the old tokens are listed as revoked', async () => {
    const { clientId, secret } = await registerClient({})
    const old = await clientCredentials(clientId, oauth.ClientSecretBasic(secret!))
    central.t.clock.advance(1)
    const rotated = (await (await admin('POST', `/admin/clients/${clientId}/rotate-secret`)).json()) as { client_secret: string }
    expect(rotated.client_secret).not.toBe(secret)
    expect(await refusal(clientCredentials(clientId, oauth.ClientSecretBasic(secret!)))).toEqual({ status: 401, error: 'invalid_client' })
    const fresh = await clientCredentials(clientId, oauth.ClientSecretBasic(rotated.client_secret))
    const marker = (await feedClients()).find((entry) => entry.client_id === clientId)!
    // The edge's rule: iat < not_before is revoked.
    expect(decodeJwt(old.access_token).iat! < marker.not_before).toBe(true)
    expect(decodeJwt(fresh.access_token).iat! < marker.not_before).toBe(false)
  })

  it('refuses a replayed client assertion', async () => {
    const { clientId, privateKey } = await privateKeyJwtClient()
    let assertion: string | undefined
    const capture: oauth.ClientAuth = async (server, client, body, headers) => {
      await oauth.PrivateKeyJwt(privateKey)(server, client, body, headers)
      assertion ??= body.get('client_assertion')!
      body.set('client_assertion', assertion)
    }
    await clientCredentials(clientId, capture)
    expect(await refusal(clientCredentials(clientId, capture))).toEqual({ status: 401, error: 'invalid_client' })
  })

  it('refuses an assertion made for another audience', async () => {
    const { clientId, privateKey } = await privateKeyJwtClient()
    const auth = oauth.PrivateKeyJwt(privateKey, {
      [oauth.modifyAssertion]: (_header: Record<string, unknown>, payload: Record<string, unknown>) => {
        payload.aud = 'https://other-server.example/oauth/token'
      },
    })
    expect(await refusal(clientCredentials(clientId, auth))).toEqual({ status: 401, error: 'invalid_client' })
  })
})

describe('DPoP at the token endpoint (RFC 9449 §5) with oauth4webapi', () => {
  it('binds the token to the proof key: token_type DPoP and cnf.jkt', async () => {
    const { clientId, secret } = await registerClient({})
    const keyPair = await oauth.generateKeyPair('ES256')
    const tokens = await clientCredentials(clientId, oauth.ClientSecretBasic(secret!), {}, { DPoP: oauth.DPoP({}, keyPair) })
    expect(tokens.token_type).toBe('dpop')
    const jkt = await calculateJwkThumbprint((await exportJWK(keyPair.publicKey)) as JWK)
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt })
  })

  it('refuses a require_dpop client without a proof (invalid_dpop_proof)', async () => {
    const { clientId, secret } = await registerClient({ require_dpop: true })
    expect(await refusal(clientCredentials(clientId, oauth.ClientSecretBasic(secret!)))).toEqual({ status: 400, error: 'invalid_dpop_proof' })
  })

  async function proof(claims: Record<string, unknown>, key?: Awaited<ReturnType<typeof generateKeyPair>>) {
    const pair = key ?? (await generateKeyPair('ES256'))
    const jwk = await exportJWK(pair.publicKey)
    const now = Math.floor(central.t.clock().getTime() / 1000)
    return await new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu: TOKEN_URL, iat: now, ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(pair.privateKey)
  }

  async function tokenRequestWithProof(clientId: string, secret: string, dpop: string) {
    return await central.t.app.request('/oauth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${btoa(`${clientId}:${secret}`)}`, DPoP: dpop },
      body: 'grant_type=client_credentials',
    })
  }

  it('refuses a replayed proof', async () => {
    const { clientId, secret } = await registerClient({})
    const dpop = await proof({})
    expect((await tokenRequestWithProof(clientId, secret!, dpop)).status).toBe(200)
    const replay = await tokenRequestWithProof(clientId, secret!, dpop)
    expect(replay.status).toBe(400)
    expect(await replay.json()).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'DPoP proof was used before' })
  })

  it.each([
    ['another URL', { htu: 'http://central.test/oauth/revoke' }],
    ['the URL central was reached at rather than its public one', { htu: 'http://localhost/oauth/token' }],
    ['another method', { htm: 'GET' }],
    ['a stale iat', { iat: Math.floor(Date.now() / 1000) - 600 }],
  ])('refuses a proof for %s', async (_name, claims) => {
    const { clientId, secret } = await registerClient({})
    const response = await tokenRequestWithProof(clientId, secret!, await proof(claims))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_dpop_proof' })
  })
})

describe('RFC 7009 revocation of client tokens', () => {
  async function revoke(token: string, headers: Record<string, string> = {}) {
    return await central.t.app.request('/oauth/revoke', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ token }).toString(),
    })
  }

  it('lets the client revoke its own token, which ends its tokens through the feed', async () => {
    const { clientId, secret } = await registerClient({})
    const tokens = await clientCredentials(clientId, oauth.ClientSecretBasic(secret!))
    central.t.clock.advance(1)
    const response = await oauth.revocationRequest(as, { client_id: clientId }, oauth.ClientSecretBasic(secret!), tokens.access_token, options())
    await oauth.processRevocationResponse(response)
    const marker = (await feedClients()).find((entry) => entry.client_id === clientId)!
    expect(decodeJwt(tokens.access_token).iat! < marker.not_before).toBe(true)
  })

  it('refuses a client token presented without client authentication (not a 500)', async () => {
    const { clientId, secret } = await registerClient({})
    const tokens = await clientCredentials(clientId, oauth.ClientSecretBasic(secret!))
    const response = await revoke(tokens.access_token)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
  })

  it('refuses a client token revoked by another client', async () => {
    const owner = await registerClient({})
    const other = await registerClient({})
    const tokens = await clientCredentials(owner.clientId, oauth.ClientSecretBasic(owner.secret!))
    const response = await revoke(tokens.access_token, { Authorization: `Basic ${btoa(`${other.clientId}:${other.secret}`)}` })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'unauthorized_client' })
  })

  it('answers 401 to a confidential client with a wrong secret', async () => {
    const { clientId } = await registerClient({})
    const response = await revoke('unknown-token', { Authorization: `Basic ${btoa(`${clientId}:wrong`)}` })
    expect(response.status).toBe(401)
  })

  it('keeps a client-credentials token away from the session endpoints', async () => {
    const { clientId, secret } = await registerClient({})
    const tokens = await clientCredentials(clientId, oauth.ClientSecretBasic(secret!))
    const response = await central.t.app.request('/auth/sessions', { headers: bearer(tokens.access_token) })
    expect(response.status).toBe(401)
  })
})

describe('RFC 8414 metadata', () => {
  it('lists the grant types, client authentication methods and DPoP algorithms', async () => {
    const metadata = (await (await central.t.app.request('/.well-known/oauth-authorization-server')).json()) as Record<string, unknown>
    expect(metadata).toMatchObject({
      grant_types_supported: expect.arrayContaining(['refresh_token', 'client_credentials']),
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: expect.arrayContaining(['ES256', 'EdDSA', 'RS256']),
      dpop_signing_alg_values_supported: expect.arrayContaining(['ES256', 'EdDSA']),
    })
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).not.toContain('HS256')
  })
})
