import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as oauth from 'oauth4webapi'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import {
  authenticateClient,
  readClientCredentials,
  type ClientAuthenticationContext,
  type TokenRequestClientParts,
} from '../../../central/clients/authenticate-client'
import { ClientKeySets } from '../../../central/clients/client-key-sets'
import { CreateClientBodySchema, toNewClient } from '../../../central/clients/client-schema'
import { createClient, disableClient, findClient, recordClientAssertionJti, rotateClientSecret } from '../../../central/clients/store'
import { InvalidClient, InvalidRequest } from '../../../shared/errors'
import { createTestDatabase, type TestDatabase } from '../../support/database'

const ISSUER = 'https://auth.example.com'
const TOKEN_ENDPOINT = 'https://auth.example.com/oauth/token'
const as: oauth.AuthorizationServer = { issuer: ISSUER, token_endpoint: TOKEN_ENDPOINT }

let db: TestDatabase
let jwksServer: Server
let jwksUrl: string
let slowServer: Server
let slowUrl: string
const secrets: Record<string, string> = {}
const clientKeys = await oauth.generateKeyPair('ES256')
const remoteKeys = await generateKeyPair('EdDSA', { extractable: true })

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
}

beforeAll(async () => {
  db = await createTestDatabase()
  const remoteJwk = { ...(await exportJWK(remoteKeys.publicKey)), kid: 'remote-1' }
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: [remoteJwk] }))
  })
  jwksUrl = await listen(jwksServer)
  slowServer = createServer(() => {}) // never answers
  slowUrl = await listen(slowServer)
  const create = async (input: Record<string, unknown>) => {
    const body = CreateClientBodySchema.parse({ grant_types: ['client_credentials'], audiences: ['orders'], ...input })
    const { secret } = await createClient(db.sql, { ...toNewClient(body), actor: 'admin:test', now: new Date() })
    if (secret) secrets[body.client_id] = secret
  }
  await create({ client_id: 'basic-client', token_endpoint_auth_method: 'client_secret_basic' })
  await create({ client_id: 'post-client', token_endpoint_auth_method: 'client_secret_post' })
  await create({ client_id: 'jwt-client', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [await exportJWK(clientKeys.publicKey)] } })
  await create({ client_id: 'remote-jwt-client', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUrl })
  await create({ client_id: 'slow-jwt-client', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: slowUrl })
  await create({ client_id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['refresh_token'] })
  await create({ client_id: 'disabled-client', token_endpoint_auth_method: 'client_secret_post' })
  await disableClient(db.sql, { clientId: 'disabled-client', actor: 'admin:test', now: new Date() })
})
afterAll(async () => {
  jwksServer?.close()
  slowServer?.closeAllConnections()
  slowServer?.close()
  await db.drop()
})

const keySets = new ClientKeySets({ timeoutMs: 300 })

function context(overrides: Partial<ClientAuthenticationContext> = {}): ClientAuthenticationContext {
  return {
    tokenEndpointUrl: TOKEN_ENDPOINT,
    issuer: ISSUER,
    now: new Date(),
    clockToleranceSeconds: 5,
    requireRegisteredClients: false,
    keySets,
    recordAssertionJti: (input) => recordClientAssertionJti(db.sql, input),
    ...overrides,
  }
}

/** What an oauth4webapi client authentication puts on a token request, as the endpoint reads it. */
async function sentBy(clientId: string, auth: oauth.ClientAuth): Promise<TokenRequestClientParts> {
  const body = new URLSearchParams()
  const headers = new Headers()
  await auth(as, { client_id: clientId }, body, headers)
  return {
    authorization: headers.get('authorization'),
    clientId: body.get('client_id') ?? undefined,
    clientSecret: body.get('client_secret') ?? undefined,
    clientAssertionType: body.get('client_assertion_type') ?? undefined,
    clientAssertion: body.get('client_assertion') ?? undefined,
  }
}

async function authenticate(parts: TokenRequestClientParts, overrides: Partial<ClientAuthenticationContext> = {}) {
  const presented = readClientCredentials(parts, 'web')
  return authenticateClient(presented, await findClient(db.sql, presented.clientId), context(overrides))
}

async function refusal(promise: Promise<unknown>): Promise<InvalidClient> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(InvalidClient)
  return error as InvalidClient
}

describe('client_secret_basic and client_secret_post', () => {
  it('authenticates the right secret in the Authorization header', async () => {
    const result = await authenticate(await sentBy('basic-client', oauth.ClientSecretBasic(secrets['basic-client']!)))
    expect(result).toMatchObject({ kind: 'registered', method: 'client_secret_basic', client: { clientId: 'basic-client' } })
  })

  it('refuses a wrong secret in the Authorization header with 401 and a Basic challenge', async () => {
    const error = await refusal(authenticate(await sentBy('basic-client', oauth.ClientSecretBasic('wrong'))))
    expect(error.status).toBe(401)
    expect(error.code).toBe('invalid_client')
    expect(error.headers['WWW-Authenticate']).toMatch(/^Basic realm="portcullis"/)
  })

  it('authenticates the right secret in the form', async () => {
    const result = await authenticate(await sentBy('post-client', oauth.ClientSecretPost(secrets['post-client']!)))
    expect(result).toMatchObject({ kind: 'registered', method: 'client_secret_post' })
  })

  it('refuses a wrong secret in the form, without a Basic challenge', async () => {
    const error = await refusal(authenticate(await sentBy('post-client', oauth.ClientSecretPost('wrong'))))
    expect(error.headers['WWW-Authenticate']).toBeUndefined()
  })

  it('refuses the right secret sent by a method the client is not registered for', async () => {
    await refusal(authenticate(await sentBy('post-client', oauth.ClientSecretBasic(secrets['post-client']!))))
  })

  it('refuses the old secret after rotation and accepts the new one', async () => {
    const old = secrets['basic-client']!
    const rotated = await rotateClientSecret(db.sql, { clientId: 'basic-client', actor: 'admin:test', now: new Date() })
    secrets['basic-client'] = rotated!.secret
    await refusal(authenticate(await sentBy('basic-client', oauth.ClientSecretBasic(old))))
    await expect(authenticate(await sentBy('basic-client', oauth.ClientSecretBasic(rotated!.secret)))).resolves.toMatchObject({ kind: 'registered' })
  })

  it('refuses a disabled client even with its right secret', async () => {
    const error = await refusal(authenticate({ clientId: 'disabled-client', clientSecret: secrets['disabled-client']! }))
    expect(error.message).toBe('client is disabled')
  })

  it('refuses two authentication methods in one request', () => {
    const basic = `Basic ${btoa('post-client:x')}`
    expect(() => readClientCredentials({ authorization: basic, clientSecret: 'y' }, 'web')).toThrow(InvalidRequest)
    expect(() => readClientCredentials({ authorization: basic, clientId: 'other' }, 'web')).toThrow(InvalidRequest)
  })

  it('refuses a malformed or non-Basic Authorization header with a Basic challenge', () => {
    for (const authorization of ['Bearer abc', 'Basic !!!', `Basic ${btoa('no-colon')}`]) {
      let thrown: unknown
      try {
        readClientCredentials({ authorization }, 'web')
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(InvalidClient)
      expect((thrown as InvalidClient).headers['WWW-Authenticate']).toMatch(/^Basic/)
    }
  })

  it('decodes form-urlencoded Basic credentials (RFC 6749 §2.3.1)', () => {
    const presented = readClientCredentials({ authorization: `Basic ${btoa('a%3Ab:s+e%25c')}` }, 'web')
    expect(presented).toEqual({ kind: 'secret', method: 'client_secret_basic', clientId: 'a:b', secret: 's e%c' })
  })
})

describe('private_key_jwt', () => {
  it('authenticates an assertion made by oauth4webapi (aud = issuer)', async () => {
    const result = await authenticate(await sentBy('jwt-client', oauth.PrivateKeyJwt(clientKeys.privateKey)))
    expect(result).toMatchObject({ kind: 'registered', method: 'private_key_jwt' })
  })

  it('authenticates an assertion whose aud is the token endpoint, without client_id in the form', async () => {
    const parts = await sentBy('jwt-client', oauth.PrivateKeyJwt(clientKeys.privateKey, { [oauth.modifyAssertion]: (_h, p) => void (p.aud = TOKEN_ENDPOINT) }))
    await expect(authenticate({ ...parts, clientId: undefined })).resolves.toMatchObject({ kind: 'registered' })
  })

  it('authenticates against keys fetched from the client\'s jwks_uri', async () => {
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'remote-1' })
      .setIssuer('remote-jwt-client').setSubject('remote-jwt-client').setAudience(ISSUER)
      .setIssuedAt().setExpirationTime('60s')
      .sign(remoteKeys.privateKey)
    const parts = { clientAssertionType: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', clientAssertion: assertion }
    await expect(authenticate(parts)).resolves.toMatchObject({ kind: 'registered', client: { clientId: 'remote-jwt-client' } })
  })

  it('refuses, without hanging, when the client\'s jwks_uri does not answer', async () => {
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer('slow-jwt-client').setSubject('slow-jwt-client').setAudience(ISSUER).setExpirationTime('60s')
      .sign(remoteKeys.privateKey)
    const error = await refusal(authenticate({ clientAssertionType: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', clientAssertion: assertion }))
    expect(error.message).toMatch(/in time/)
  })

  it('refuses a replayed assertion', async () => {
    const parts = await sentBy('jwt-client', oauth.PrivateKeyJwt(clientKeys.privateKey))
    await authenticate(parts)
    const error = await refusal(authenticate(parts))
    expect(error.message).toMatch(/used before/)
  })

  it('refuses an assertion for another audience', async () => {
    const parts = await sentBy('jwt-client', oauth.PrivateKeyJwt(clientKeys.privateKey, { [oauth.modifyAssertion]: (_h, p) => void (p.aud = 'https://other.example.com') }))
    expect((await refusal(authenticate(parts))).message).toMatch(/aud/)
  })

  it('refuses an expired assertion', async () => {
    const past = Math.floor(Date.now() / 1000) - 600
    const parts = await sentBy('jwt-client', oauth.PrivateKeyJwt(clientKeys.privateKey, {
      [oauth.modifyAssertion]: (_h, p) => Object.assign(p, { iat: past, nbf: past, exp: past + 60 }),
    }))
    expect((await refusal(authenticate(parts))).message).toMatch(/expired/)
  })

  it('refuses an assertion valid for longer than five minutes', async () => {
    const parts = await sentBy('jwt-client', oauth.PrivateKeyJwt(clientKeys.privateKey, {
      [oauth.modifyAssertion]: (_h, p) => void (p.exp = Math.floor(Date.now() / 1000) + 3600),
    }))
    expect((await refusal(authenticate(parts))).message).toMatch(/within 300 seconds/)
  })

  it('refuses an assertion without jti', async () => {
    const parts = await sentBy('jwt-client', oauth.PrivateKeyJwt(clientKeys.privateKey, { [oauth.modifyAssertion]: (_h, p) => void delete p.jti }))
    expect((await refusal(authenticate(parts))).message).toMatch(/jti/)
  })

  it('refuses an assertion whose iss or sub is another client', async () => {
    const parts = await sentBy('jwt-client', oauth.PrivateKeyJwt(clientKeys.privateKey, { [oauth.modifyAssertion]: (_h, p) => void (p.sub = 'post-client') }))
    await refusal(authenticate(parts))
  })

  it('refuses an HS256 assertion (client_secret_jwt)', async () => {
    const parts = await sentBy('jwt-client', oauth.ClientSecretJwt('a-secret-the-server-would-have-to-store'))
    expect((await refusal(authenticate(parts))).message).toMatch(/algorithm/)
  })

  it('refuses an assertion signed by a key the client did not register', async () => {
    const other = await oauth.generateKeyPair('ES256')
    await refusal(authenticate(await sentBy('jwt-client', oauth.PrivateKeyJwt(other.privateKey))))
  })

  it('refuses an assertion for a secret client', async () => {
    await refusal(authenticate(await sentBy('post-client', oauth.PrivateKeyJwt(clientKeys.privateKey))))
  })

  it('refuses a wrong client_assertion_type', () => {
    expect(() => readClientCredentials({ clientAssertionType: 'urn:other', clientAssertion: 'a.b.c' }, 'web')).toThrow(InvalidRequest)
  })
})

describe('public and unregistered clients', () => {
  it('lets a registered public client through without credentials', async () => {
    await expect(authenticate({ clientId: 'spa' })).resolves.toMatchObject({ kind: 'registered', method: 'none' })
  })

  it('refuses a confidential client presenting no credentials', async () => {
    await refusal(authenticate({ clientId: 'post-client' }))
  })

  it('treats an unregistered client id without credentials as implicit, unless registration is required', async () => {
    await expect(authenticate({ clientId: 'mobile' })).resolves.toEqual({ kind: 'implicit', clientId: 'mobile' })
    await expect(authenticate({})).resolves.toEqual({ kind: 'implicit', clientId: 'web' })
    await refusal(authenticate({ clientId: 'mobile' }, { requireRegisteredClients: true }))
  })

  it('refuses credentials for an unregistered client id, with the same message as a wrong secret', async () => {
    const error = await refusal(authenticate({ clientId: 'ghost', clientSecret: 'x' }))
    expect(error.message).toBe('client authentication failed')
  })
})
