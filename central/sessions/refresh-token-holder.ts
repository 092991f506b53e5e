import { readIssuedRefreshToken } from './refresh-token'
import type { SessionDeps } from './session-settings'
import { findRefreshTokenHolder, type RefreshTokenHolder } from './store'

/**
 * The session a refresh token belongs to (its current or previous token), with its client and
 * DPoP key, for ending it: logout, RFC 7009 revoke, sign-out. A token central cannot have issued
 * (malformed, or a tag that does not verify) finds nothing and costs no lookup.
 */
export async function refreshTokenHolder(deps: Pick<SessionDeps, 'sql' | 'sessions'>, refreshToken: string): Promise<RefreshTokenHolder | undefined> {
  const presented = readIssuedRefreshToken(refreshToken, deps.sessions.chainKey)
  return presented && (await findRefreshTokenHolder(deps.sql, presented))
}
