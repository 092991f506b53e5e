import { jwtVerify } from 'jose'
import type { Sql } from 'postgres'
import { ACCESS_TOKEN_TYPE, AccessTokenClaimsSchema, type AccessTokenClaims } from '../../shared/access-token-claims'
import { InvalidToken } from '../../shared/errors'
import type { Config } from '../config'
import { getVerificationKeySet, SIGNING_ALGORITHM } from './signing-keys'

/**
 * Verifies an access token central itself issued, against its own published keys, for the
 * `/auth/*` endpoints that take a Bearer token (RFC 9068 §4: `typ`, `iss`, signature, `exp`).
 * Any failure is `invalid_token` without detail about which check failed.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function verifyAccessToken(
  deps: { sql: Sql; config: Config },
  token: string,
  now: Date,
): Promise<AccessTokenClaims> {
  const jwks = await getVerificationKeySet(deps.sql, now)
  try {
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: [SIGNING_ALGORITHM],
      typ: ACCESS_TOKEN_TYPE,
      issuer: deps.config.ISSUER,
      currentDate: now,
      clockTolerance: deps.config.CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['sub', 'sid', 'jti', 'exp', 'iat'],
    })
    return AccessTokenClaimsSchema.parse(payload)
  } catch (error) {
    throw new InvalidToken('access token is not valid', { cause: error })
  }
}
