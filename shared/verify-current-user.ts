import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose'
import { accessTokenRules } from './access-token-rules'
import { currentUserFromClaims, type CurrentUser } from './current-user'
import { InvalidToken } from './errors'
import { verifyTokenAgainstKeySet } from './verify-token-against-key-set'

export interface TokenVerifierOptions {
  issuer: string
  /** The audience this origin expects in `aud` (RFC 9068 §4). */
  audience: string
  /** Central's JWKS URL; or pass `keys` (e.g. jose's `createLocalJWKSet`). */
  jwksUrl?: string
  keys?: JWTVerifyGetKey
  clockToleranceSeconds?: number
}

/**
 * For origins that do not want to trust network placement alone: verifies the access token itself
 * (forward it with `FORWARD_AUTHORIZATION=true`) under the edge's rules (`shared/access-token-rules`)
 * plus this origin's audience, and returns the `CurrentUser`. Revocation is not checked here; the
 * edge does that. Failures are `InvalidToken` whose `cause` holds the rule that failed.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function createCurrentUserVerifier(options: TokenVerifierOptions): (token: string) => Promise<CurrentUser> {
  const keys = options.keys ?? (options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined)
  if (!keys) throw new TypeError('createCurrentUserVerifier needs jwksUrl or keys')
  const rules = accessTokenRules({ issuer: options.issuer, audience: options.audience, clockToleranceSeconds: options.clockToleranceSeconds ?? 30 })
  return async (token) => {
    try {
      return currentUserFromClaims(await verifyTokenAgainstKeySet(token, keys, rules, Math.floor(Date.now() / 1000)))
    } catch (error) {
      const reason = error instanceof InvalidToken ? error.reason : undefined
      throw new InvalidToken('access token failed verification', { cause: error, reason })
    }
  }
}
