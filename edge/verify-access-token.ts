import { compactVerify, errors } from 'jose'
import {
  ACCESS_TOKEN_ALGORITHMS,
  ACCESS_TOKEN_TYPE,
  type AccessTokenClaims,
} from '../shared/access-token-claims'
import { InvalidToken } from '../shared/errors'
import type { JwksCache } from './jwks'
import { toVerifiedToken, type VerifiedToken } from './verified-token'
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
const PAYLOAD_AND_SIGNATURE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const ONLY_ES256 = ['ES256']
const ONLY_EDDSA = ['EdDSA']
const REQUIRED_CLAIMS = ['iss', 'exp', 'iat', 'sub', 'sid', 'jti', 'aud', 'client_id']
/** Claim values become HTTP header values at the origin: visible ASCII, no spaces. */
const HEADER_SAFE = /^[\x21-\x7e]+$/
const SCOPE_SAFE = /^[\x20-\x7e]*$/

export interface VerifiedAccessToken {
  token: VerifiedToken
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
    return { token: cached, fromCache: true }
  }

  // Segment boundaries by index: no array of three copies, and the JWE test only on the failure path.
  const firstDot = token.indexOf('.')
  const secondDot = firstDot === -1 ? -1 : token.indexOf('.', firstDot + 1)
  if (secondDot === -1 || token.indexOf('.', secondDot + 1) !== -1) {
    if (token.split('.').length === 5) throw new InvalidToken('encrypted tokens (JWE) are not accepted')
    throw new InvalidToken('access token is not a compact JWS')
  }
  if (firstDot > MAX_HEADER_SEGMENT_LENGTH) throw new InvalidToken('access token header is too large')
  const headerSegment = token.slice(0, firstDot)
  const header = checkedHeaders.get(headerSegment) ?? checkProtectedHeader(headerSegment)
  // Payload and signature in one pass over the characters, then the pad bits of each.
  if (!PAYLOAD_AND_SIGNATURE.test(token.slice(firstDot + 1)) || !hasZeroPadBits(token, firstDot + 1, secondDot) || !hasZeroPadBits(token, secondDot + 1, token.length)) {
    throw new InvalidToken('access token is not canonical base64url')
  }

  // Warm isolate: the imported key is a map lookup, no await.
  const key = deps.jwks.knownKey(header.kid) ?? (await deps.jwks.findKey(header.kid, nowMs))
  if (!key) throw new InvalidToken('token is signed by an unknown key')
  // RFC 8725 §3.1: the key decides the algorithm, never the token.
  if (key.alg !== header.alg) throw new InvalidToken('token algorithm does not match its key')

  // jose checks the signature (RFC 7515 §5.2) with the key's one algorithm; the claims are then
  // checked here, once, on the payload bytes jose returns. `jwtVerify` would decode the JSON and
  // validate generic options on top, work the checks below repeat anyway (~4 µs per token).
  let payloadBytes: Uint8Array
  try {
    payloadBytes = (await compactVerify(token, key.key, { algorithms: key.alg === 'ES256' ? ONLY_ES256 : ONLY_EDDSA })).payload
  } catch (error) {
    throw new InvalidToken(describeJoseFailure(error), { cause: error })
  }
  const claims = checkAccessTokenClaims(payloadBytes, deps, nowSeconds)
  if (!claimsAreHeaderSafe(claims)) throw new InvalidToken('token claims contain characters that cannot be forwarded')

  const verified = toVerifiedToken(claims, key.kid)
  // A key set that changed while the signature was being checked has already purged the cache of
  // this key's tokens (JwksCache.onKeySetChanged); caching now would bring one back. The token is
  // still valid for this request, which was verified against the keys current when it arrived.
  if (deps.jwks.knownKey(key.kid) === key) deps.cache.set(token, verified)
  return { token: verified, fromCache: false }
}

/** What the edge needs from a protected header that passed `checkProtectedHeader`. */
interface CheckedHeader {
  alg: string
  kid: string
}

/**
 * Protected headers already checked, by their base64url text. The check is a pure function of that
 * text, and every token a key signs carries the same header, so in practice there is one entry per
 * signing key and a new token skips the decode and the checks (~2 µs in workerd). Bounded: once full
 * nothing more is added, so made-up headers cannot grow it.
 */
const checkedHeaders = new Map<string, CheckedHeader>()
const MAX_CHECKED_HEADERS = 16

/**
 * A strict look at the protected header before any key is chosen: canonical base64url, a JSON object
 * with only `alg`, `typ` and `kid`, an accepted asymmetric `alg`, `typ` = `at+jwt`, a plain `kid`.
 */
function checkProtectedHeader(headerSegment: string): CheckedHeader {
  // jose's decoder is lenient; a second spelling of the same bytes would be a second cache key and
  // a malleable signature (RFC 7515 §2, RFC 4648 §3.5: pad bits must be zero).
  if (!isCanonicalBase64url(headerSegment)) throw new InvalidToken('access token is not canonical base64url')
  const header = decodeHeader(headerSegment)
  for (const name in header) {
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
  const checked = { alg: header.alg, kid: header.kid }
  if (checkedHeaders.size < MAX_CHECKED_HEADERS) checkedHeaders.set(headerSegment, checked)
  return checked
}

/**
 * RFC 9068 §4 / RFC 7519 §4.1 claim checks on a payload whose signature jose verified: required
 * claims present, `iss` exact, the shape `AccessTokenClaimsSchema` describes, then `nbf`, `exp` and
 * `iat` against the clock with the tolerance (RFC 7519 §4.1.4–4.1.6; `iat` too, so a token minted
 * with a clock far ahead is not accepted for longer than its lifetime).
 */
function checkAccessTokenClaims(payloadBytes: Uint8Array, deps: VerifyDependencies, nowSeconds: number): AccessTokenClaims {
  let payload: unknown
  try {
    payload = JSON.parse(strictUtf8.decode(payloadBytes))
  } catch {
    throw new InvalidToken('token claims are not valid JSON')
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new InvalidToken('token claims are not a JSON object')
  for (const claim of REQUIRED_CLAIMS) {
    if (!Object.hasOwn(payload, claim)) throw new InvalidToken(`token is missing the ${claim} claim`)
  }
  if ((payload as { iss?: unknown }).iss !== deps.issuer) throw new InvalidToken('token issuer is not accepted')
  const claims = readAccessTokenClaims(payload)
  if (!claims) throw new InvalidToken('token claims are malformed')
  const tolerance = deps.clockToleranceSeconds
  if (claims.nbf !== undefined && claims.nbf > nowSeconds + tolerance) throw new InvalidToken('token is not yet valid')
  if (claims.exp <= nowSeconds - tolerance) throw new InvalidToken('access token has expired')
  if (claims.iat > nowSeconds + tolerance) throw new InvalidToken('token was issued in the future')
  return claims
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
  return segment.length > 0 && BASE64URL_SEGMENT.test(segment) && hasZeroPadBits(segment, 0, segment.length)
}

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/

/** RFC 4648 §3.5 for `text[start, end)`, already known to be base64url characters. */
function hasZeroPadBits(text: string, start: number, end: number): boolean {
  const remainder = (end - start) % 4
  if (remainder === 1) return false
  if (remainder === 0) return true
  const last = BASE64URL_ALPHABET.indexOf(text[end - 1]!)
  // 2 chars carry 1 byte (4 spare bits), 3 chars carry 2 bytes (2 spare bits).
  return remainder === 2 ? (last & 0b1111) === 0 : (last & 0b11) === 0
}

const NON_ASCII = /[^\x00-\x7f]/

function decodeHeader(segment: string): Record<string, unknown> {
  let header: unknown
  try {
    const binary = atob(segment.replace(/-/g, '+').replace(/_/g, '/'))
    // An ASCII header (every real one) is its own UTF-8 decoding. `Uint8Array.from(binary, fn)`
    // plus a TextDecoder call measured ~7 µs per token in workerd, a tenth of the ES256 check.
    header = JSON.parse(NON_ASCII.test(binary) ? strictUtf8.decode(Uint8Array.from(binary, (char) => char.charCodeAt(0))) : binary)
  } catch {
    throw new InvalidToken('access token header is not valid JSON')
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new InvalidToken('access token header is not a JSON object')
  return header as Record<string, unknown>
}

function claimsAreHeaderSafe(claims: AccessTokenClaims): boolean {
  if (!HEADER_SAFE.test(claims.sub) || !HEADER_SAFE.test(claims.sid) || !HEADER_SAFE.test(claims.client_id) || !HEADER_SAFE.test(claims.jti)) return false
  if (typeof claims.aud === 'string' ? !HEADER_SAFE.test(claims.aud) : !claims.aud.every((aud) => HEADER_SAFE.test(aud))) return false
  // Scopes are space-separated (RFC 6749 §3.3): each one visible ASCII, so the whole value printable ASCII.
  if (!SCOPE_SAFE.test(claims.scope)) return false
  return claims.roles === undefined || claims.roles.every((role) => HEADER_SAFE.test(role))
}

/** Names the rule that failed, never the token or claim values (no double quotes: they end up escaped in the challenge). */
function describeJoseFailure(error: unknown): string {
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid'
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not accepted'
  return 'access token is malformed'
}
