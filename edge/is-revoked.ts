import type { AccessTokenClaims } from '../shared/access-token-claims'

/**
 * Step 4 of the request path (DESIGN.md "Request path at the edge"): is the token's session (`sid`)
 * or its user's not-before marker in the cached revocation feed? The feed arrives with issue 5;
 * until then nothing is revoked at the edge and tokens live until `exp`.
 * Runs on every request, also for tokens served from the verified-token cache.
 */
export function isRevoked(_claims: AccessTokenClaims, _nowMs: number): boolean {
  return false
}
