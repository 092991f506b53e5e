import { compactVerify } from 'jose'
import type { AccessTokenClaims } from '../shared/access-token-claims'
import { checkAccessTokenClaims, checkAccessTokenHeader, type AccessTokenRules, type CheckedAccessTokenHeader } from '../shared/access-token-rules'
import { InvalidToken } from '../shared/errors'
import { invalidTokenFromJose, parseClaimsJson } from '../shared/verify-token-against-key-set'
import type { VerificationKey } from './jwks'
import { toVerifiedToken, type VerifiedToken } from './verified-token'

/** Longest token the edge parses at all; ours are ~600 characters. */
export const MAX_ACCESS_TOKEN_LENGTH = 4096
/** Longest protected header (base64url) the edge decodes; ours is ~70 characters. */
export const MAX_HEADER_SEGMENT_LENGTH = 512

const PAYLOAD_AND_SIGNATURE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
/** Claim values become HTTP header values at the origin: visible ASCII, no spaces. */
const HEADER_SAFE = /^[\x21-\x7e]+$/
const SCOPE_SAFE = /^[\x20-\x7e]*$/

/**
 * The protected header segment of a compact JWS, after the checks that need no decoding: the size
 * limits and exactly three segments.
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 */
export function readHeaderSegment(token: string): string {
  if (token.length > MAX_ACCESS_TOKEN_LENGTH) {
    throw new InvalidToken(`access token is longer than ${MAX_ACCESS_TOKEN_LENGTH} characters`, { reason: 'too_long' })
  }
  // Segment boundaries by index: no array of three copies, and the JWE test only on the failure path.
  const firstDot = token.indexOf('.')
  const secondDot = firstDot === -1 ? -1 : token.indexOf('.', firstDot + 1)
  if (secondDot === -1 || token.indexOf('.', secondDot + 1) !== -1) {
    if (token.split('.').length === 5) throw new InvalidToken('encrypted tokens (JWE) are not accepted', { reason: 'encrypted' })
    throw new InvalidToken('access token is not a compact JWS', { reason: 'malformed' })
  }
  if (firstDot > MAX_HEADER_SEGMENT_LENGTH) throw new InvalidToken('access token header is too large', { reason: 'too_long' })
  return token.slice(0, firstDot)
}

/**
 * Payload and signature of a token `readHeaderSegment` accepted are canonical base64url: a second
 * spelling of the same bytes would be a second cache key and a malleable signature (RFC 7515 §2,
 * RFC 4648 §3.5: pad bits must be zero).
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-3.5
 */
export function assertCanonicalPayloadAndSignature(token: string, headerSegment: string): void {
  const firstDot = headerSegment.length
  const secondDot = token.indexOf('.', firstDot + 1)
  // One pass over the characters, then the pad bits of each segment.
  if (!PAYLOAD_AND_SIGNATURE.test(token.slice(firstDot + 1)) || !hasZeroPadBits(token, firstDot + 1, secondDot) || !hasZeroPadBits(token, secondDot + 1, token.length)) {
    throw new InvalidToken('access token is not canonical base64url', { reason: 'not_canonical' })
  }
}

/**
 * The protected header segment decoded and checked under the shared rules, before any key is
 * chosen. A pure function of the segment's text, so its answer may be remembered per segment.
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.1
 */
export function checkHeaderSegment(headerSegment: string, rules: AccessTokenRules): CheckedAccessTokenHeader {
  if (!isCanonicalBase64url(headerSegment)) throw new InvalidToken('access token is not canonical base64url', { reason: 'not_canonical' })
  return checkAccessTokenHeader(decodeHeader(headerSegment), rules)
}

/**
 * The signature and claims of a token whose header passed `checkHeaderSegment`, with `key` the
 * JWKS key its `kid` names: the key decides the algorithm, jose checks the signature, the shared
 * rules the claims, and every claim value must be forwardable as a header. No I/O, no caching.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function checkSignedAccessToken(
  token: string,
  header: CheckedAccessTokenHeader,
  key: VerificationKey,
  rules: AccessTokenRules,
  nowSeconds: number,
): Promise<VerifiedToken> {
  // RFC 8725 §3.1: the key decides the algorithm, never the token.
  if (key.alg !== header.alg) throw new InvalidToken('token algorithm does not match its key', { reason: 'alg_key_mismatch', claim: 'alg' })
  // `compactVerify`, not `jwtVerify`: the claims are checked once, by the shared rules below.
  let payload: Uint8Array
  try {
    ;({ payload } = await compactVerify(token, key.key, { algorithms: [key.alg] }))
  } catch (error) {
    throw invalidTokenFromJose(error)
  }
  const claims = checkAccessTokenClaims(parseClaimsJson(payload), rules, nowSeconds)
  if (!claimsAreHeaderSafe(claims)) throw new InvalidToken('token claims contain characters that cannot be forwarded', { reason: 'not_forwardable' })
  return toVerifiedToken(claims, key.kid)
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/

/** Unpadded base64url (RFC 7515 §2) whose unused trailing bits are zero. */
export function isCanonicalBase64url(segment: string): boolean {
  return segment.length > 0 && BASE64URL_SEGMENT.test(segment) && hasZeroPadBits(segment, 0, segment.length)
}

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
    // An ASCII header (every real one) is its own UTF-8 decoding, which skips a copy into bytes.
    header = JSON.parse(NON_ASCII.test(binary) ? strictUtf8.decode(Uint8Array.from(binary, (char) => char.charCodeAt(0))) : binary)
  } catch {
    throw new InvalidToken('access token header is not valid JSON', { reason: 'malformed' })
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) {
    throw new InvalidToken('access token header is not a JSON object', { reason: 'malformed' })
  }
  return header as Record<string, unknown>
}

function claimsAreHeaderSafe(claims: AccessTokenClaims): boolean {
  if (!HEADER_SAFE.test(claims.sub) || !HEADER_SAFE.test(claims.sid) || !HEADER_SAFE.test(claims.client_id) || !HEADER_SAFE.test(claims.jti)) return false
  if (typeof claims.aud === 'string' ? !HEADER_SAFE.test(claims.aud) : !claims.aud.every((aud) => HEADER_SAFE.test(aud))) return false
  // Scopes are space-separated (RFC 6749 §3.3): each one visible ASCII, so the whole value printable ASCII.
  if (!SCOPE_SAFE.test(claims.scope)) return false
  return claims.roles === undefined || claims.roles.every((role) => HEADER_SAFE.test(role))
}
