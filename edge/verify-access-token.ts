import { errors, jwtVerify } from 'jose'
import {
  ACCESS_TOKEN_ALGORITHMS,
  ACCESS_TOKEN_TYPE,
  audienceList,
  parseScope,
  type AccessTokenClaims,
} from '../shared/access-token-claims'
import { InvalidToken } from '../shared/errors'
import type { JwksCache } from './jwks'
import type { VerifiedTokenCache } from './verified-token-cache'

/** Longest token the edge parses at all; ours are ~600 characters. */
export const MAX_ACCESS_TOKEN_LENGTH = 4096
/** Longest protected header (base64url) the edge decodes; ours is ~70 characters. */
export const MAX_HEADER_SEGMENT_LENGTH = 512

/**
 * Header parameters an access token may carry. Everything else is refused, in particular the
 * ones that would let the token choose its own key (`jwk`, `jku`, `x5u`, `x5c`: RFC 8725 §3.10)
 * or change how it is processed (`crit`, `b64`: RFC 7515 §4.1.11, RFC 7797).
 */
const ALLOWED_HEADER_PARAMETERS = new Set(['alg', 'typ', 'kid'])
const KEY_CARRYING_PARAMETERS = new Set(['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'])
const KID_SHAPE = /^[A-Za-z0-9\-._~:+=]{1,128}$/
/** Claim values become HTTP header values at the origin: visible ASCII, no spaces. */
const HEADER_SAFE = /^[\x21-\x7e]+$/

export interface VerifiedAccessToken {
  claims: AccessTokenClaims
  /** Served from the verified-token cache (no signature check this time). */
  fromCache: boolean
}

export interface VerifyDependencies {
  issuer: string
  clockToleranceSeconds: number
  jwks: JwksCache
  cache: VerifiedTokenCache
}

/**
 * Verifies an access token statelessly (RFC 9068 §4) and returns its claims: size limits and a
 * strict look at the protected header before anything else, then jose with the one algorithm of the
 * key named by `kid`, `typ` = `at+jwt`, `iss`, `exp`/`nbf`/`iat` within the clock tolerance, and
 * `sub`/`sid`/`jti`/`client_id` required. A token seen before is served from the verified-token
 * cache, but its expiry is checked again on every request.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */
export async function verifyAccessToken(token: string, deps: VerifyDependencies, nowMs: number): Promise<VerifiedAccessToken> {
  if (token.length > MAX_ACCESS_TOKEN_LENGTH) throw new InvalidToken(`access token is longer than ${MAX_ACCESS_TOKEN_LENGTH} characters`)
  const nowSeconds = Math.floor(nowMs / 1000)

  const cached = deps.cache.get(token)
  if (cached) {
    if (cached.claims.exp <= nowSeconds - deps.clockToleranceSeconds) {
      deps.cache.delete(token)
      throw new InvalidToken('access token has expired')
    }
    return { claims: cached.claims, fromCache: true }
  }

  const segments = token.split('.')
  if (segments.length === 5) throw new InvalidToken('encrypted tokens (JWE) are not accepted')
  if (segments.length !== 3) throw new InvalidToken('access token is not a compact JWS')
  const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string]
  if (headerSegment.length > MAX_HEADER_SEGMENT_LENGTH) throw new InvalidToken('access token header is too large')
  // jose's decoder is lenient; a second spelling of the same bytes would be a second cache key and
  // a malleable signature (RFC 7515 §2, RFC 4648 §3.5: pad bits must be zero).
  if (!isCanonicalBase64url(headerSegment)) throw new InvalidToken('access token is not canonical base64url')

  const header = decodeHeader(headerSegment)
  for (const name of Object.keys(header)) {
    if (ALLOWED_HEADER_PARAMETERS.has(name)) continue
    if (KEY_CARRYING_PARAMETERS.has(name)) throw new InvalidToken(`header parameter ${name} is not accepted: keys come only from the JWKS`)
    if (name === 'crit') throw new InvalidToken('critical header parameters are not supported')
    if (name === 'b64') throw new InvalidToken('unencoded payloads (b64) are not supported')
    if (name === 'enc' || name === 'zip') throw new InvalidToken('encrypted tokens (JWE) are not accepted')
    throw new InvalidToken('access token header has an unexpected parameter')
  }
  if (typeof header.alg !== 'string' || !(ACCESS_TOKEN_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw new InvalidToken('token algorithm is not an accepted asymmetric algorithm')
  }
  if (!isAccessTokenType(header.typ)) throw new InvalidToken(`token type must be ${ACCESS_TOKEN_TYPE}`)
  if (typeof header.kid !== 'string') throw new InvalidToken('token has no key id')
  if (!KID_SHAPE.test(header.kid)) throw new InvalidToken('token key id is malformed')
  if (!isCanonicalBase64url(payloadSegment) || !isCanonicalBase64url(signatureSegment)) {
    throw new InvalidToken('access token is not canonical base64url')
  }

  const key = await deps.jwks.findKey(header.kid, nowMs)
  if (!key) throw new InvalidToken('token is signed by an unknown key')
  // RFC 8725 §3.1: the key decides the algorithm, never the token.
  if (key.alg !== header.alg) throw new InvalidToken('token algorithm does not match its key')

  let payload: unknown
  try {
    const result = await jwtVerify(token, key.key, {
      algorithms: [key.alg],
      issuer: deps.issuer,
      typ: ACCESS_TOKEN_TYPE,
      clockTolerance: deps.clockToleranceSeconds,
      currentDate: new Date(nowMs),
      requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti', 'aud', 'client_id'],
    })
    payload = result.payload
  } catch (error) {
    throw new InvalidToken(describeJoseFailure(error), { cause: error })
  }

  const claims = readAccessTokenClaims(payload)
  if (!claims) throw new InvalidToken('token claims are malformed')
  // jose only checks `iat` against the clock when maxTokenAge is set.
  if (claims.iat > nowSeconds + deps.clockToleranceSeconds) throw new InvalidToken('token was issued in the future')
  if (!claimsAreHeaderSafe(claims)) throw new InvalidToken('token claims contain characters that cannot be forwarded')

  deps.cache.set(token, { claims, kid: key.kid })
  return { claims, fromCache: false }
}

/**
 * The shape `AccessTokenClaimsSchema` (shared) describes, checked by hand: on workerd zod cannot
 * compile its validators (no `new Function`), and its interpreted path measured ~6 µs per token,
 * close to a tenth of the ES256 check this path is meant to stay within 0.8× of (npm run bench edge).
 */
function readAccessTokenClaims(payload: unknown): AccessTokenClaims | undefined {
  const claims = payload as Record<string, unknown>
  const text = (value: unknown): value is string => typeof value === 'string' && value.length > 0
  const { iss, sub, aud, exp, iat, nbf, jti, client_id, scope, sid, roles } = claims
  if (!text(iss) || !text(sub) || !text(jti) || !text(client_id) || !text(sid)) return undefined
  if (!Number.isInteger(exp) || !Number.isInteger(iat) || (nbf !== undefined && !Number.isInteger(nbf))) return undefined
  if (!(text(aud) || (Array.isArray(aud) && aud.length > 0 && aud.every(text)))) return undefined
  if (scope !== undefined && typeof scope !== 'string') return undefined
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((role) => typeof role === 'string'))) return undefined
  return {
    iss,
    sub,
    aud: aud as string | string[],
    exp: exp as number,
    iat: iat as number,
    ...(nbf === undefined ? {} : { nbf: nbf as number }),
    jti,
    client_id,
    scope: scope ?? '',
    sid,
    ...(roles === undefined ? {} : { roles: roles as string[] }),
  }
}

/** RFC 7515 §4.1.9: `typ` may omit the `application/` prefix; compared case-insensitively. */
function isAccessTokenType(typ: unknown): boolean {
  if (typeof typ !== 'string') return false
  const normalized = typ.toLowerCase()
  return normalized === ACCESS_TOKEN_TYPE || normalized === `application/${ACCESS_TOKEN_TYPE}`
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Unpadded base64url (RFC 7515 §2) whose unused trailing bits are zero. */
export function isCanonicalBase64url(segment: string): boolean {
  if (segment.length === 0 || !/^[A-Za-z0-9_-]+$/.test(segment)) return false
  const remainder = segment.length % 4
  if (remainder === 1) return false
  if (remainder === 0) return true
  const last = BASE64URL_ALPHABET.indexOf(segment[segment.length - 1]!)
  // 2 chars carry 1 byte (4 spare bits), 3 chars carry 2 bytes (2 spare bits).
  return remainder === 2 ? (last & 0b1111) === 0 : (last & 0b11) === 0
}

function decodeHeader(segment: string): Record<string, unknown> {
  let header: unknown
  try {
    const binary = atob(segment.replace(/-/g, '+').replace(/_/g, '/'))
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0))
    header = JSON.parse(strictUtf8.decode(bytes))
  } catch {
    throw new InvalidToken('access token header is not valid JSON')
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new InvalidToken('access token header is not a JSON object')
  return header as Record<string, unknown>
}

function claimsAreHeaderSafe(claims: AccessTokenClaims): boolean {
  const values = [claims.sub, claims.sid, claims.client_id, claims.jti, ...audienceList(claims.aud), ...parseScope(claims.scope), ...(claims.roles ?? [])]
  return values.every((value) => HEADER_SAFE.test(value)) && /^[\x20-\x7e]*$/.test(claims.scope)
}

/** Names the rule that failed, never the token or claim values (no double quotes: they end up escaped in the challenge). */
function describeJoseFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'access token has expired'
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `token is missing the ${error.claim} claim`
    if (error.claim === 'nbf') return 'token is not yet valid'
    if (error.claim === 'iss') return 'token issuer is not accepted'
    if (error.claim === 'typ') return `token type must be ${ACCESS_TOKEN_TYPE}`
    return `token claim ${error.claim} is invalid`
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid'
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not accepted'
  return 'access token is malformed'
}
