import { compactVerify, decodeProtectedHeader, errors, type CompactVerifyGetKey } from 'jose'
import { checkAccessTokenClaims, checkAccessTokenHeader, type AccessTokenRules } from './access-token-rules'
import type { AccessTokenClaims } from './access-token-claims'
import { InvalidToken } from './errors'

/**
 * Verifies an access token with a jose key set (`createLocalJWKSet`, `createRemoteJWKSet`) under the
 * shared rules: the protected header before any key is chosen, jose for the signature, then the
 * claims. For central and origins; the edge runs the same checks around its own key cache.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function verifyTokenAgainstKeySet(
  token: string,
  keySet: CompactVerifyGetKey,
  rules: AccessTokenRules,
  nowSeconds: number,
): Promise<AccessTokenClaims> {
  let header: Record<string, unknown>
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>
  } catch (error) {
    throw new InvalidToken('access token is malformed', { cause: error, reason: 'malformed' })
  }
  checkAccessTokenHeader(header, rules)
  let payload: Uint8Array
  try {
    ;({ payload } = await compactVerify(token, keySet, { algorithms: [...rules.algorithms] }))
  } catch (error) {
    throw invalidTokenFromJose(error)
  }
  return checkAccessTokenClaims(parseClaimsJson(payload), rules, nowSeconds)
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/** The payload jose verified, as JSON; strict UTF-8 so one claim value has one byte form. */
export function parseClaimsJson(payload: Uint8Array): unknown {
  try {
    return JSON.parse(strictUtf8.decode(payload))
  } catch {
    throw new InvalidToken('token claims are not valid JSON', { reason: 'malformed' })
  }
}

/** A jose signature-check failure as `InvalidToken`, naming the rule, never token or claim values. */
export function invalidTokenFromJose(error: unknown): InvalidToken {
  if (error instanceof InvalidToken) return error
  if (error instanceof errors.JWSSignatureVerificationFailed) return new InvalidToken('token signature is invalid', { cause: error, reason: 'signature_invalid' })
  if (error instanceof errors.JOSEAlgNotAllowed) return new InvalidToken('token algorithm is not accepted', { cause: error, reason: 'alg_not_allowed', claim: 'alg' })
  if (error instanceof errors.JWKSNoMatchingKey) return new InvalidToken('token is signed by an unknown key', { cause: error, reason: 'unknown_key', claim: 'kid' })
  return new InvalidToken('access token is malformed', { cause: error, reason: 'malformed' })
}
