import { ACCESS_TOKEN_TYPE, audienceList, readAccessTokenClaims, type AccessTokenClaims } from './access-token-claims'
import { InvalidToken } from './errors'

/**
 * Signature algorithms an access token may use. Asymmetric only: a verifier holds public keys, so
 * nothing it holds can mint a token (RFC 8725 §3.1 and §3.2).
 */
export const ACCESS_TOKEN_ALGORITHMS = ['ES256', 'EdDSA'] as const
export type AccessTokenAlgorithm = (typeof ACCESS_TOKEN_ALGORITHMS)[number]

/** Claims every access token carries: RFC 9068 §2.2, plus `sid` (the session it belongs to). */
export const REQUIRED_ACCESS_TOKEN_CLAIMS = ['iss', 'exp', 'iat', 'sub', 'sid', 'jti', 'aud', 'client_id'] as const

/**
 * Protected header parameters an access token may carry. The others would let a token choose its
 * own key (`jwk`, `jku`, `x5u`, `x5c`: RFC 8725 §3.10) or how it is processed (`crit`, `b64`).
 */
export const ACCESS_TOKEN_HEADER_PARAMETERS = ['alg', 'typ', 'kid'] as const

/** What a verifier accepts, as data: every verifier of access tokens checks these rules and no others. */
export interface AccessTokenRules {
  issuer: string
  algorithms: readonly AccessTokenAlgorithm[]
  /** RFC 9068 §2.1 `typ`. */
  type: string
  requiredClaims: readonly string[]
  headerParameters: ReadonlySet<string>
  /** Allowed clock skew for `exp`, `nbf` and `iat` (RFC 7519 §4.1.4–4.1.6). */
  clockToleranceSeconds: number
  /** The resource this verifier serves, required in `aud`; undefined where routes check it (the edge). */
  audience: string | undefined
}

/**
 * The access-token rules for one verifier: the shared algorithm list, type, header parameters and
 * required claims, with its issuer, clock tolerance and (optionally) audience.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function accessTokenRules(settings: { issuer: string; clockToleranceSeconds: number; audience?: string }): AccessTokenRules {
  return {
    issuer: settings.issuer,
    algorithms: ACCESS_TOKEN_ALGORITHMS,
    type: ACCESS_TOKEN_TYPE,
    requiredClaims: REQUIRED_ACCESS_TOKEN_CLAIMS,
    headerParameters: new Set(ACCESS_TOKEN_HEADER_PARAMETERS),
    clockToleranceSeconds: settings.clockToleranceSeconds,
    audience: settings.audience,
  }
}

/** A protected header that passed `checkAccessTokenHeader`: what picks the key. */
export interface CheckedAccessTokenHeader {
  alg: AccessTokenAlgorithm
  kid: string
}

const KEY_CARRYING_PARAMETERS = new Set(['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'])
const KID_SHAPE = /^[A-Za-z0-9\-._~:+=]{1,128}$/

/**
 * Checks a decoded protected header before any key is chosen: only the allowed parameters, an
 * allowed `alg`, the access-token `typ` and a plain `kid`. Throws `InvalidToken` with a `reason`.
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.1
 */
export function checkAccessTokenHeader(header: Record<string, unknown>, rules: AccessTokenRules): CheckedAccessTokenHeader {
  for (const name in header) {
    if (rules.headerParameters.has(name)) continue
    const options = { reason: 'header_parameter_not_allowed', claim: name } as const
    if (KEY_CARRYING_PARAMETERS.has(name)) throw new InvalidToken(`header parameter ${name} is not accepted: keys come only from the JWKS`, options)
    if (name === 'crit') throw new InvalidToken('critical header parameters are not supported', options)
    if (name === 'b64') throw new InvalidToken('unencoded payloads (b64) are not supported', options)
    if (name === 'enc' || name === 'zip') throw new InvalidToken('encrypted tokens (JWE) are not accepted', { reason: 'encrypted', claim: name })
    throw new InvalidToken('access token header has an unexpected parameter', options)
  }
  const { alg, typ, kid } = header
  if (typeof alg !== 'string' || !(rules.algorithms as readonly string[]).includes(alg)) {
    throw new InvalidToken('token algorithm is not an accepted asymmetric algorithm', { reason: 'alg_not_allowed', claim: 'alg' })
  }
  if (!isAccessTokenType(typ, rules)) throw new InvalidToken(`token type must be ${rules.type}`, { reason: 'typ_not_allowed', claim: 'typ' })
  if (typeof kid !== 'string') throw new InvalidToken('token has no key id', { reason: 'kid_malformed', claim: 'kid' })
  if (!KID_SHAPE.test(kid)) throw new InvalidToken('token key id is malformed', { reason: 'kid_malformed', claim: 'kid' })
  return { alg: alg as AccessTokenAlgorithm, kid }
}

/** RFC 7515 §4.1.9: `typ` may omit the `application/` prefix and is compared case-insensitively. */
function isAccessTokenType(typ: unknown, rules: AccessTokenRules): boolean {
  if (typeof typ !== 'string') return false
  const normalized = typ.toLowerCase()
  return normalized === rules.type || normalized === `application/${rules.type}`
}

/**
 * Checks the claims of a token whose signature was verified: required claims present, `iss` exact,
 * the shape of `AccessTokenClaimsSchema`, `aud` when the rules name an audience, then the times.
 * Throws `InvalidToken` with a `reason` (and the `claim`, where one failed).
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function checkAccessTokenClaims(payload: unknown, rules: AccessTokenRules, nowSeconds: number): AccessTokenClaims {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new InvalidToken('token claims are not a JSON object', { reason: 'malformed' })
  }
  for (const claim of rules.requiredClaims) {
    if (!Object.hasOwn(payload, claim)) throw new InvalidToken(`token is missing the ${claim} claim`, { reason: 'claim_missing', claim })
  }
  if ((payload as { iss?: unknown }).iss !== rules.issuer) {
    throw new InvalidToken('token issuer is not accepted', { reason: 'issuer_mismatch', claim: 'iss' })
  }
  const claims = readAccessTokenClaims(payload)
  if (!claims) throw new InvalidToken('token claims are malformed', { reason: 'claim_invalid' })
  if (rules.audience !== undefined && !audienceList(claims.aud).includes(rules.audience)) {
    throw new InvalidToken('token audience does not include this resource', { reason: 'audience_mismatch', claim: 'aud' })
  }
  checkAccessTokenTimes(claims, rules, nowSeconds)
  return claims
}

/**
 * `nbf`, `exp` and `iat` against the clock with the rules' tolerance; `iat` too, so a token minted
 * with a clock far ahead is not accepted for longer than its lifetime. Also what a cached token is
 * checked against on every use.
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-4.1.4
 */
export function checkAccessTokenTimes(claims: Pick<AccessTokenClaims, 'exp' | 'iat' | 'nbf'>, rules: AccessTokenRules, nowSeconds: number): void {
  const tolerance = rules.clockToleranceSeconds
  if (claims.nbf !== undefined && claims.nbf > nowSeconds + tolerance) {
    throw new InvalidToken('token is not yet valid', { reason: 'not_yet_valid', claim: 'nbf' })
  }
  if (claims.exp <= nowSeconds - tolerance) throw new InvalidToken('access token has expired', { reason: 'expired', claim: 'exp' })
  if (claims.iat > nowSeconds + tolerance) throw new InvalidToken('token was issued in the future', { reason: 'issued_in_future', claim: 'iat' })
}
