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

/** Why a DPoP-bound token is refused here: the token alone proves nothing about who sent it. */
export const DPOP_BOUND_TOKEN_REFUSED =
  'a DPoP-bound access token (cnf.jkt) needs a DPoP proof of possession, which this verifier does not check: ' +
  'take the caller from the edge\'s identity headers, or check the proof (verifyDpopProof with ath) before trusting the token'

/**
 * For origins that do not want to trust network placement alone: verifies the access token itself
 * (forward it with `FORWARD_AUTHORIZATION=true`) under the edge's rules (`shared/access-token-rules`)
 * plus this origin's audience, and returns the `CurrentUser`. Revocation is not checked here; the
 * edge does that. A DPoP-bound token (`cnf`) is refused, whatever the scheme: accepting it without
 * checking a proof by its key would make a stolen bound token as good as a bearer token (RFC 9449
 * §7.1). Failures are `InvalidToken` whose `cause` holds the rule that failed.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export function createCurrentUserVerifier(options: TokenVerifierOptions): (token: string) => Promise<CurrentUser> {
  const keys = options.keys ?? (options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined)
  if (!keys) throw new TypeError('createCurrentUserVerifier needs jwksUrl or keys')
  const rules = accessTokenRules({ issuer: options.issuer, audience: options.audience, clockToleranceSeconds: options.clockToleranceSeconds ?? 30 })
  return async (token) => {
    let claims
    try {
      claims = await verifyTokenAgainstKeySet(token, keys, rules, Math.floor(Date.now() / 1000))
    } catch (error) {
      const reason = error instanceof InvalidToken ? error.reason : undefined
      throw new InvalidToken('access token failed verification', { cause: error, reason })
    }
    if (claims.cnf !== undefined) throw new InvalidToken(DPOP_BOUND_TOKEN_REFUSED)
    return currentUserFromClaims(claims)
  }
}
