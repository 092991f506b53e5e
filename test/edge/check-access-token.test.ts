import { createHmac } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  MAX_ACCESS_TOKEN_LENGTH,
  assertCanonicalPayloadAndSignature,
  checkHeaderSegment,
  checkSignedAccessToken,
  readHeaderSegment,
} from '../../edge/check-access-token'
import type { VerificationKey } from '../../edge/jwks'
import { accessTokenRules } from '../../shared/access-token-rules'
import { InvalidToken, type InvalidTokenReason } from '../../shared/errors'
import { TEST_ISSUER, accessTokenClaims, base64url, createSigningKey, signAccessToken, signRawToken, type TestSigningKey } from '../support/edge-keys'

const rules = accessTokenRules({ issuer: TEST_ISSUER, clockToleranceSeconds: 30 })
const nowSeconds = () => Math.floor(Date.now() / 1000)
const header = (overrides: Record<string, unknown> = {}) => ({ alg: 'ES256', typ: 'at+jwt', kid: 'key-1', ...overrides })
const segment = (value: unknown) => base64url(JSON.stringify(value))

let signer: TestSigningKey
let other: TestSigningKey
let key: VerificationKey

beforeAll(async () => {
  signer = await createSigningKey('key-1')
  other = await createSigningKey('key-1')
  key = { kid: 'key-1', alg: 'ES256', key: signer.publicKey, jwkJson: JSON.stringify(signer.publicJwk) }
})

/** The `reason` of the `InvalidToken` that `check` throws or rejects with. */
async function reasonOf(check: () => unknown): Promise<InvalidTokenReason | undefined> {
  try {
    await check()
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidToken)
    return (error as InvalidToken).reason
  }
  throw new Error('expected the check to reject')
}

describe('readHeaderSegment', () => {
  it('returns the header segment of a compact JWS', () => {
    expect(readHeaderSegment('aGVhZGVy.cGF5bG9hZA.c2ln')).toBe('aGVhZGVy')
  })

  it.each<[string, string, InvalidTokenReason]>([
    ['a token over the size limit', `${'a'.repeat(MAX_ACCESS_TOKEN_LENGTH)}.b.c`, 'too_long'],
    ['a header segment over its limit', `${'a'.repeat(600)}.b.c`, 'too_long'],
    ['one segment', 'garbage', 'malformed'],
    ['two segments', 'a.b', 'malformed'],
    ['four segments', 'a.b.c.d', 'malformed'],
    ['five segments (JWE)', 'a.b.c.d.e', 'encrypted'],
  ])('rejects %s', async (_label, token, reason) => {
    expect(await reasonOf(() => readHeaderSegment(token))).toBe(reason)
  })
})

describe('checkHeaderSegment', () => {
  it('reads alg and kid from a header that passes the shared rules', () => {
    expect(checkHeaderSegment(segment(header()), rules)).toEqual({ alg: 'ES256', kid: 'key-1' })
  })

  it.each<[string, string, InvalidTokenReason]>([
    ['HS256', segment(header({ alg: 'HS256' })), 'alg_not_allowed'],
    ['a jwk header', segment(header({ jwk: {} })), 'header_parameter_not_allowed'],
    ['typ JWT', segment(header({ typ: 'JWT' })), 'typ_not_allowed'],
    ['a header that is not JSON', base64url('{not json'), 'malformed'],
    ['a header that is a JSON array', segment([header()]), 'malformed'],
    ['a padded header', `${segment(header())}=`, 'not_canonical'],
    ['an empty header', '', 'not_canonical'],
  ])('rejects %s', async (_label, headerSegment, reason) => {
    expect(await reasonOf(() => checkHeaderSegment(headerSegment, rules))).toBe(reason)
  })
})

describe('assertCanonicalPayloadAndSignature', () => {
  it('accepts a token as jose signs it', async () => {
    const token = await signAccessToken(signer)
    expect(() => assertCanonicalPayloadAndSignature(token, readHeaderSegment(token))).not.toThrow()
  })

  it.each([
    ['an empty signature', (token: string) => token.slice(0, token.lastIndexOf('.') + 1)],
    ['a padded signature', (token: string) => `${token}==`],
    ['non-zero pad bits in the signature', (token: string) => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      return token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) | 1]
    }],
  ])('rejects %s', async (_label, tamper) => {
    const token = tamper(await signAccessToken(signer))
    expect(await reasonOf(() => assertCanonicalPayloadAndSignature(token, readHeaderSegment(token)))).toBe('not_canonical')
  })
})

describe('checkSignedAccessToken', () => {
  it('returns the verified token with what the request path derives from it', async () => {
    const token = await signAccessToken(signer, { roles: ['support'] })
    const verified = await checkSignedAccessToken(token, { alg: 'ES256', kid: 'key-1' }, key, rules, nowSeconds())
    expect(verified).toMatchObject({ kid: 'key-1', audiences: ['demo-api'], claims: { sub: 'user-123', roles: ['support'] } })
    expect([...verified.scopes]).toEqual(['orders:read', 'profile'])
  })

  it.each<[string, () => Promise<string>, InvalidTokenReason]>([
    ['a signature by another key under the same kid', () => signAccessToken(other), 'signature_invalid'],
    ['a signature of zeros', () => signRawToken(signer, header(), accessTokenClaims(), new Uint8Array(64)), 'signature_invalid'],
    ['an expired token', () => signAccessToken(signer, { iat: nowSeconds() - 3600, exp: nowSeconds() - 600 }), 'expired'],
    ['another issuer', () => signAccessToken(signer, { iss: 'http://evil.test' }), 'issuer_mismatch'],
    ['no client_id', () => signAccessToken(signer, { client_id: undefined }), 'claim_missing'],
    ['a sub with a line break', () => signAccessToken(signer, { sub: 'user\r\nX-Portcullis-Roles: admin' }), 'not_forwardable'],
  ])('rejects %s', async (_label, makeToken, reason) => {
    const token = await makeToken()
    expect(await reasonOf(() => checkSignedAccessToken(token, { alg: 'ES256', kid: 'key-1' }, key, rules, nowSeconds()))).toBe(reason)
  })

  it('rejects a header algorithm that is not the algorithm of the key, before any signature check', async () => {
    const signingInput = `${segment(header({ alg: 'EdDSA' }))}.${segment(accessTokenClaims())}`
    const token = `${signingInput}.${base64url(createHmac('sha256', 'x').update(signingInput).digest())}`
    expect(await reasonOf(() => checkSignedAccessToken(token, { alg: 'EdDSA', kid: 'key-1' }, key, rules, nowSeconds()))).toBe('alg_key_mismatch')
  })
})
