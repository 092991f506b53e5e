import { InvalidCredentials, type PortcullisError } from '../../shared/errors'
import { recordAuditEvent } from '../audit/store'
import type { AppDeps } from '../http/app-deps'
import { mintAccessToken } from '../tokens/mint-access-token'
import { getSigningKey } from '../tokens/signing-keys'
import { generateRefreshToken, hashRefreshToken } from './refresh-token'
import { boundByUserGrant, type FullGrant } from './narrow-grant'
import { insertSession, lockSessionHolder } from './store'
import { INVALID_CREDENTIALS } from '../users/authenticate-user'
import { audiencesOrIssuer, type TokenSet } from './token-set'

export const DEFAULT_CLIENT_ID = 'web'

export interface SessionStart {
  user: FullGrant & {
    id: string
    /**
     * A login's verified password hash (AuthenticatedUser.verifiedPasswordHash): no session when
     * the user's hash differs under the lock, i.e. the password changed after it was verified.
     * Absent for `POST /admin/sessions`, which verifies no password.
     */
    verifiedPasswordHash?: string
  }
  clientId?: string
  userAgent?: string | null
  ip?: string | null
  /** Who started it: 'user' for a login, 'admin:<name>' for `POST /admin/sessions`. */
  actor: string
  /**
   * What to throw when the user turns out to be disabled (or deleted), or their password changed,
   * inside the transaction. Default: the login's answer to a disabled user or a wrong password
   * (authenticate-user.ts); nothing tells them apart.
   */
  refuseDisabledUser?: () => PortcullisError
}

const refuseLikeLogin = () => new InvalidCredentials(INVALID_CREDENTIALS)

/**
 * One login = one session: a session row, its first refresh token (stored as a hash) and an
 * access token carrying the session's grant. Session, token and audit event commit together,
 * after the user is read again under a share lock: a user disabled, or given a new password,
 * since the caller checked (a login's argon2 takes a while) gets no session, and the grant is
 * bounded by what the user holds at that moment.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export async function startSession(deps: AppDeps, start: SessionStart): Promise<TokenSet> {
  const now = deps.clock()
  const { config } = deps
  const refreshToken = generateRefreshToken()
  const clientId = start.clientId ?? DEFAULT_CLIENT_ID
  const absoluteExpiresAt = new Date(+now + config.REFRESH_ABSOLUTE_TTL_SECONDS * 1000)
  const idleExpiresAt = new Date(Math.min(+now + config.REFRESH_IDLE_TTL_SECONDS * 1000, +absoluteExpiresAt))
  const signingKey = await getSigningKey(deps.sql, config, now)
  const tokens = await deps.sql.begin(async (tx) => {
    const holder = await lockSessionHolder(tx, start.user.id, { verifiedPasswordHash: start.user.verifiedPasswordHash })
    if (!holder) return undefined
    // Within what the user holds now: an admin may have removed a grant since the caller read it.
    const grant = boundByUserGrant(start.user, holder)
    const sessionId = await insertSession(tx, {
      userId: start.user.id,
      clientId,
      audiences: grant.audiences,
      scopes: grant.scopes,
      roles: grant.roles,
      userAgent: start.userAgent ?? null,
      ip: start.ip ?? null,
      now,
      idleExpiresAt,
      absoluteExpiresAt,
      tokenHash: hashRefreshToken(refreshToken),
    })
    await recordAuditEvent(tx, {
      type: 'session.created',
      at: now,
      actor: start.actor,
      userId: start.user.id,
      sessionId,
      details: { clientId, ip: start.ip ?? null, userAgent: start.userAgent ?? null },
    })
    const { accessToken, expiresIn } = await mintAccessToken(
      { config, signingKey },
      {
        userId: start.user.id,
        sessionId,
        clientId,
        audiences: audiencesOrIssuer(grant.audiences, config.ISSUER),
        scopes: grant.scopes,
        roles: grant.roles,
      },
      now,
    )
    return { accessToken, refreshToken, expiresIn, scope: grant.scopes.join(' '), sessionId }
  })
  if (!tokens) throw (start.refuseDisabledUser ?? refuseLikeLogin)()
  return tokens
}
