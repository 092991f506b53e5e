import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import * as oauth from 'oauth4webapi'
import type { ClientRecord } from '../../../central/clients/client-record'
import {
  clientTokenIssuedAt,
  decideClientCredentials,
  mintClientCredentialsToken,
  type ClientCredentialsRequest,
} from '../../../central/clients/client-credentials'
import { decideDpopBinding } from '../../../central/clients/dpop-binding'
import { loadConfig } from '../../../central/config'
import { ensureSigningKeys, getSigningKey } from '../../../central/tokens/signing-keys'
import { verifyAccessToken } from '../../../central/tokens/verify-access-token'
import { UnauthorizedClient } from '../../../shared/client-errors'
import { InvalidDpopProof } from '../../../shared/dpop-errors'
import { InvalidScope, InvalidTarget } from '../../../shared/errors'
import { createTestDatabase, type TestDatabase } from '../../support/database'

const client: ClientRecord = {
  clientId: 'orders-batch',
  type: 'confidential',
  tokenEndpointAuthMethod: 'client_secret_basic',
  secretHash: Buffer.alloc(32),
  secretRotatedAt: null,
  jwks: null,
  jwksUri: null,
  grantTypes: ['client_credentials'],
  audiences: ['orders', 'billing'],
  scopes: ['orders:read', 'orders:write'],
  roles: ['batch'],
  accessTokenTtlSeconds: null,
  requireDpop: false,
  enabled: true,
  notBefore: null,
  createdAt: new Date('2030-01-01T00:00:00Z'),
  updatedAt: new Date('2030-01-01T00:00:00Z'),
}
const settings = { accessTokenTtlSeconds: 900 }

describe('decideClientCredentials', () => {
  it.each<[string, Partial<ClientRecord>, ClientCredentialsRequest, Record<string, unknown>]>([
    ['everything allowed when nothing is asked', {}, {}, { audiences: ['orders', 'billing'], scopes: ['orders:read', 'orders:write'], roles: ['batch'], ttlSeconds: 900, jkt: undefined }],
    ['one resource', {}, { resource: 'billing' }, { audiences: ['billing'] }],
    ['requested scopes it holds', {}, { scopes: ['orders:read'] }, { scopes: ['orders:read'] }],
    ['requested ∩ allowed', {}, { scopes: ['orders:read', 'admin'] }, { scopes: ['orders:read'] }],
    ['duplicate scopes once', {}, { scopes: ['orders:read', 'orders:read'] }, { scopes: ['orders:read'] }],
    ['an empty scope as no scope parameter', {}, { scopes: [] }, { scopes: ['orders:read', 'orders:write'] }],
    ['the client\'s shorter lifetime', { accessTokenTtlSeconds: 60 }, {}, { ttlSeconds: 60 }],
    ['never longer than the service lifetime', { accessTokenTtlSeconds: 3600 }, {}, { ttlSeconds: 900 }],
    ['the DPoP key', {}, { dpopJkt: 'thumb' }, { jkt: 'thumb' }],
    ['the DPoP key a require_dpop client sent', { requireDpop: true }, { dpopJkt: 'thumb' }, { jkt: 'thumb' }],
    ['no roles when the client has none', { roles: [] }, {}, { roles: [] }],
  ])('grants %s', (_name, overrides, request, expected) => {
    expect(decideClientCredentials({ ...client, ...overrides }, request, settings)).toMatchObject({ clientId: 'orders-batch', ...expected })
  })

  it.each<[string, Partial<ClientRecord>, ClientCredentialsRequest, new (...args: never[]) => Error, string]>([
    ['a resource outside its audiences', {}, { resource: 'hr' }, InvalidTarget, 'invalid_target'],
    ['a client with no audiences', { audiences: [] }, {}, InvalidTarget, 'invalid_target'],
    ['only scopes it does not hold', {}, { scopes: ['admin'] }, InvalidScope, 'invalid_scope'],
    ['a client without the grant type', { grantTypes: ['refresh_token'] }, {}, UnauthorizedClient, 'unauthorized_client'],
    ['a public client', { type: 'public', tokenEndpointAuthMethod: 'none' }, {}, UnauthorizedClient, 'unauthorized_client'],
    ['a disabled client', { enabled: false }, {}, UnauthorizedClient, 'unauthorized_client'],
    ['a require_dpop client without a proof', { requireDpop: true }, {}, InvalidDpopProof, 'invalid_dpop_proof'],
  ])('refuses %s', (_name, overrides, request, errorClass, code) => {
    let thrown: unknown
    try {
      decideClientCredentials({ ...client, ...overrides }, request, settings)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(errorClass)
    expect(thrown).toMatchObject({ code, status: 400 })
  })
})

describe('clientTokenIssuedAt', () => {
  const now = new Date('2030-01-01T00:00:10.400Z')
  it.each([
    [null, now],
    [new Date('2030-01-01T00:00:05.000Z'), now],
    [new Date('2030-01-01T00:00:10.200Z'), new Date('2030-01-01T00:00:11.000Z')],
    [new Date('2030-01-01T00:00:10.000Z'), now],
  ])('with not_before %s issues at %s', (notBefore, expected) => {
    expect(clientTokenIssuedAt({ notBefore }, now)).toEqual(expected)
  })
})

describe('mintClientCredentialsToken', () => {
  let db: TestDatabase
  const config = loadConfig({ ISSUER: 'https://auth.example.com' })
  beforeAll(async () => {
    db = await createTestDatabase()
    await ensureSigningKeys(db.sql, config, new Date())
  })
  afterAll(() => db.drop())

  it('signs an RFC 9068 token for the client that central\'s own verifier accepts', async () => {
    const now = new Date()
    const grant = decideClientCredentials(client, { scopes: ['orders:read'], resource: 'orders' }, settings)
    const minted = await mintClientCredentialsToken({ config, signingKey: await getSigningKey(db.sql, config, now) }, client, grant, now)
    expect(minted).toMatchObject({ tokenType: 'Bearer', scope: 'orders:read', expiresIn: 900 })
    const claims = await verifyAccessToken({ sql: db.sql, config }, minted.accessToken, now)
    expect(claims).toMatchObject({ iss: 'https://auth.example.com', sub: 'orders-batch', client_id: 'orders-batch', aud: ['orders'], scope: 'orders:read', sid: 'client:orders-batch', roles: ['batch'] })
    expect(decodeProtectedHeader(minted.accessToken)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' })
    expect(decodeJwt(minted.accessToken).cnf).toBeUndefined()
  })

  it('binds the token to the DPoP key with cnf.jkt and says token_type DPoP', async () => {
    const now = new Date()
    const keyPair = await oauth.generateKeyPair('ES256')
    const jkt = await oauth.DPoP({}, keyPair).calculateThumbprint()
    const grant = decideClientCredentials({ ...client, accessTokenTtlSeconds: 120 }, { dpopJkt: jkt }, settings)
    const minted = await mintClientCredentialsToken({ config, signingKey: await getSigningKey(db.sql, config, now) }, client, grant, now)
    expect(minted.tokenType).toBe('DPoP')
    const claims = decodeJwt(minted.accessToken)
    expect(claims.cnf).toEqual({ jkt })
    expect(claims.exp! - claims.iat!).toBe(120)
  })

  it('issues no earlier than the client\'s not-before marker, so the new token survives it', async () => {
    const now = new Date()
    const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 + 500)
    const signingKey = await getSigningKey(db.sql, config, now)
    const minted = await mintClientCredentialsToken({ config, signingKey }, { notBefore }, decideClientCredentials(client, {}, settings), now)
    const { iat } = decodeJwt(minted.accessToken)
    expect(iat).toBeGreaterThanOrEqual(Math.ceil(notBefore.getTime() / 1000))
    expect(minted.expiresIn).toBeLessThanOrEqual(901)
  })
})

describe('decideDpopBinding', () => {
  it.each([
    ['an unbound chain without a proof gets a Bearer token', null, undefined, { kind: 'allow', accessTokenJkt: undefined }],
    ['an unbound chain with a proof gets a token bound to that key', null, 'k1', { kind: 'allow', accessTokenJkt: 'k1' }],
    ['a bound chain with a proof by its key goes on', 'k1', 'k1', { kind: 'allow', accessTokenJkt: 'k1' }],
    ['a bound chain without a proof is refused', 'k1', undefined, { kind: 'refuse' }],
    ['a bound chain with a proof by another key is refused', 'k1', 'k2', { kind: 'refuse' }],
  ] as const)('%s', (_name, chainJkt, proofJkt, expected) => {
    expect(decideDpopBinding(chainJkt, proofJkt)).toMatchObject(expected)
  })
})
