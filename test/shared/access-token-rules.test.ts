import { describe, expect, it } from 'vitest'
import {
  ACCESS_TOKEN_ALGORITHMS,
  accessTokenRules,
  checkAccessTokenClaims,
  checkAccessTokenHeader,
  checkAccessTokenTimes,
} from '../../shared/access-token-rules'
import { InvalidToken, type InvalidTokenReason } from '../../shared/errors'

const ISSUER = 'https://central.test'
const NOW = 1_700_000_000
const rules = accessTokenRules({ issuer: ISSUER, clockToleranceSeconds: 30 })

/** The rejection `check` throws, as `{ reason, claim }`; fails the test when it does not throw `InvalidToken`. */
function rejectionOf(check: () => unknown): { reason: InvalidTokenReason | undefined; claim: string | undefined } {
  try {
    check()
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidToken)
    const { reason, claim } = error as InvalidToken
    return { reason, claim }
  }
  throw new Error('expected the check to reject')
}

describe('access-token rules', () => {
  it('allow asymmetric algorithms only', () => {
    expect(ACCESS_TOKEN_ALGORITHMS).toEqual(['ES256', 'EdDSA'])
    expect(rules.algorithms.every((alg) => !alg.startsWith('HS') && alg.toLowerCase() !== 'none')).toBe(true)
  })
})

describe('checkAccessTokenHeader', () => {
  const header = (overrides: Record<string, unknown> = {}) => ({ alg: 'ES256', typ: 'at+jwt', kid: 'key-1', ...overrides })

  it.each([
    ['ES256', header()],
    ['EdDSA', header({ alg: 'EdDSA' })],
    ['typ with the application/ prefix', header({ typ: 'application/at+jwt' })],
    ['typ in capitals', header({ typ: 'AT+JWT' })],
  ])('accepts %s', (_label, value) => {
    expect(checkAccessTokenHeader(value, rules)).toEqual({ alg: value.alg, kid: 'key-1' })
  })

  it.each<[string, Record<string, unknown>, InvalidTokenReason, string]>([
    ['HS256 (a symmetric algorithm)', header({ alg: 'HS256' }), 'alg_not_allowed', 'alg'],
    ['HS512', header({ alg: 'HS512' }), 'alg_not_allowed', 'alg'],
    ['alg none', header({ alg: 'none' }), 'alg_not_allowed', 'alg'],
    ['RS256 (not on the list)', header({ alg: 'RS256' }), 'alg_not_allowed', 'alg'],
    ['no alg', header({ alg: undefined }), 'alg_not_allowed', 'alg'],
    ['typ JWT (an ID token)', header({ typ: 'JWT' }), 'typ_not_allowed', 'typ'],
    ['no typ', header({ typ: undefined }), 'typ_not_allowed', 'typ'],
    ['no kid', header({ kid: undefined }), 'kid_malformed', 'kid'],
    ['a kid with a path', header({ kid: '../../etc/passwd' }), 'kid_malformed', 'kid'],
    ['an embedded jwk', header({ jwk: { kty: 'EC' } }), 'header_parameter_not_allowed', 'jwk'],
    ['a jku', header({ jku: 'https://evil.test/jwks' }), 'header_parameter_not_allowed', 'jku'],
    ['an x5c', header({ x5c: ['MIIB'] }), 'header_parameter_not_allowed', 'x5c'],
    ['crit', header({ crit: ['b64'] }), 'header_parameter_not_allowed', 'crit'],
    ['b64', header({ b64: false }), 'header_parameter_not_allowed', 'b64'],
    ['an unknown parameter', header({ foo: 1 }), 'header_parameter_not_allowed', 'foo'],
    ['enc (a JWE header)', header({ enc: 'A256GCM' }), 'encrypted', 'enc'],
  ])('rejects %s', (_label, value, reason, claim) => {
    expect(rejectionOf(() => checkAccessTokenHeader(value, rules))).toEqual({ reason, claim })
  })
})

describe('checkAccessTokenClaims', () => {
  const claims = (overrides: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    sub: 'user-1',
    aud: ['api'],
    exp: NOW + 300,
    iat: NOW,
    jti: 'jti-1',
    client_id: 'web',
    scope: 'read',
    sid: 'session-1',
    ...overrides,
  })
  const missing = (claim: string) => Object.fromEntries(Object.entries(claims()).filter(([name]) => name !== claim))

  it('returns the claims of a token that passes every rule', () => {
    expect(checkAccessTokenClaims(claims({ roles: ['support'], extra: 'dropped' }), rules, NOW)).toEqual({ ...claims(), roles: ['support'] })
  })

  it.each([
    ['exp just inside the tolerance', claims({ exp: NOW - 29 })],
    ['nbf ahead by the tolerance', claims({ nbf: NOW + 30 })],
    ['iat ahead by the tolerance', claims({ iat: NOW + 30 })],
  ])('accepts %s', (_label, payload) => {
    expect(checkAccessTokenClaims(payload, rules, NOW).sub).toBe('user-1')
  })

  it.each<[string, unknown, InvalidTokenReason, string | undefined]>([
    ...['iss', 'exp', 'iat', 'sub', 'sid', 'jti', 'aud', 'client_id'].map(
      (claim) => [`no ${claim}`, missing(claim), 'claim_missing', claim] as [string, unknown, InvalidTokenReason, string],
    ),
    ['another issuer', claims({ iss: 'https://evil.test' }), 'issuer_mismatch', 'iss'],
    ['a malformed claim', claims({ roles: 'admin' }), 'claim_invalid', undefined],
    ['a non-integer exp', claims({ exp: 'tomorrow' }), 'claim_invalid', undefined],
    ['an expired token', claims({ exp: NOW - 30 }), 'expired', 'exp'],
    ['nbf beyond the tolerance', claims({ nbf: NOW + 31 }), 'not_yet_valid', 'nbf'],
    ['iat beyond the tolerance', claims({ iat: NOW + 31 }), 'issued_in_future', 'iat'],
    ['an array', [claims()], 'malformed', undefined],
    ['null', null, 'malformed', undefined],
  ])('rejects %s', (_label, payload, reason, claim) => {
    expect(rejectionOf(() => checkAccessTokenClaims(payload, rules, NOW))).toEqual({ reason, claim })
  })

  it('checks the audience when the rules name one', () => {
    const forApi = accessTokenRules({ issuer: ISSUER, clockToleranceSeconds: 30, audience: 'api' })
    const forBilling = accessTokenRules({ issuer: ISSUER, clockToleranceSeconds: 30, audience: 'billing-api' })
    expect(checkAccessTokenClaims(claims({ aud: 'api' }), forApi, NOW).aud).toBe('api')
    expect(rejectionOf(() => checkAccessTokenClaims(claims(), forBilling, NOW))).toEqual({ reason: 'audience_mismatch', claim: 'aud' })
  })
})

describe('checkAccessTokenTimes', () => {
  it.each([
    [NOW + 300, 'not expired', undefined],
    [NOW - 29, 'within the tolerance', undefined],
    [NOW - 30, 'expired at the tolerance', 'expired'],
  ])('exp %i is %s', (exp, _label, reason) => {
    const check = () => checkAccessTokenTimes({ exp, iat: NOW - 600 }, rules, NOW)
    if (reason === undefined) expect(check).not.toThrow()
    else expect(rejectionOf(check).reason).toBe(reason)
  })
})
