import type { Sql } from 'postgres'
import type { AccessTokenClaims } from '../../shared/access-token-claims'
import { accessTokenRules } from '../../shared/access-token-rules'
import { InvalidToken } from '../../shared/errors'
import { verifyTokenAgainstKeySet } from '../../shared/verify-token-against-key-set'
import type { Config } from '../config'
import { getVerificationKeySet } from './signing-keys'

/**
 * Verifies an access token central itself issued, against its own published keys, for the
 * `/auth/*` endpoints that take a Bearer token, under the rules every verifier shares
 * (`shared/access-token-rules`). Any failure is `invalid_token` without detail about which check
 * failed; the rule is kept in `reason` and `cause`.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function verifyAccessToken(
  deps: { sql: Sql; config: Config },
  token: string,
  now: Date,
): Promise<AccessTokenClaims> {
  const keySet = await getVerificationKeySet(deps.sql, now)
  const rules = accessTokenRules({ issuer: deps.config.ISSUER, clockToleranceSeconds: deps.config.CLOCK_TOLERANCE_SECONDS })
  try {
    return await verifyTokenAgainstKeySet(token, keySet, rules, Math.floor(now.getTime() / 1000))
  } catch (error) {
    const reason = error instanceof InvalidToken ? error.reason : undefined
    throw new InvalidToken('access token is not valid', { cause: error, reason })
  }
}
