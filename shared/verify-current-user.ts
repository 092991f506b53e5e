import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose'
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_TYPE, AccessTokenClaimsSchema } from './access-token-claims'
import { currentUserFromClaims, type CurrentUser } from './current-user'
import { InvalidToken } from './errors'

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
 * (forward it with `FORWARD_AUTHORIZATION=true`) with the same rules as the edge's core (asymmetric
 * algorithms, `typ` at+jwt, issuer, audience, required claims) and returns the `CurrentUser`.
 * Revocation is not checked here; the edge does that.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function createCurrentUserVerifier(options: TokenVerifierOptions): (token: string) => Promise<CurrentUser> {
  const keys = options.keys ?? (options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined)
  if (!keys) throw new TypeError('createCurrentUserVerifier needs jwksUrl or keys')
  return async (token) => {
    let payload: unknown
    try {
      ;({ payload } = await jwtVerify(token, keys, {
        algorithms: [...ACCESS_TOKEN_ALGORITHMS],
        typ: ACCESS_TOKEN_TYPE,
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti', 'client_id'],
      }))
    } catch (error) {
      throw new InvalidToken('access token failed verification', { cause: error })
    }
    const claims = AccessTokenClaimsSchema.safeParse(payload)
    if (!claims.success) throw new InvalidToken('token claims are malformed')
    return currentUserFromClaims(claims.data)
  }
}
