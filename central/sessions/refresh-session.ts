import { mintAccessToken } from '../tokens/mint-access-token'
import { getSigningKey } from '../tokens/signing-keys'
import { InvalidGrant } from '../../shared/errors'
import { DEFAULT_CLIENT_ID } from './start-session'
import { slidIdleExpiry } from './session-record'
import type { SessionDeps } from './session-settings'
import { decideRefresh } from './decide-refresh'
import { boundByUserGrant, narrowGrant } from './narrow-grant'
import { generateRefreshToken, hashRefreshToken, looksLikeRefreshToken, openSuccessor, sealSuccessor } from './refresh-token'
import { applyRotation, findRefreshTokenByHash, lockSessionByTokenHash, revokeSessionForReuse } from './store'
import { audiencesOrIssuer, type TokenSet } from './token-set'

export interface RefreshRequest {
  refreshToken: string
  clientId?: string
  /** RFC 6749 §6 `scope`, already split; narrows the access token. */
  scopes?: string[]
  /** RFC 8707 `resource`: one audience for the access token. */
  resource?: string
  ip: string | null
  userAgent: string | null
}

type RefreshOutcome = { kind: 'issued'; tokens: TokenSet } | { kind: 'refused'; reason: string }

/**
 * RFC 6749 §6 refresh with rotation, in ONE transaction: lock the session → read the token →
 * decide → rotate / replay / revoke → mint. A failure anywhere rolls everything back, so the
 * presented token stays exactly as valid as before (never spent without a successor, never
 * counted as reuse by a retry). Refusals are answered only after the transaction commits, so
 * a reuse revocation is not undone by the error.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
export async function refreshSession(deps: SessionDeps, request: RefreshRequest): Promise<TokenSet> {
  // Garbage, truncated or oversized tokens never reach the database.
  if (!looksLikeRefreshToken(request.refreshToken)) throw new InvalidGrant('refresh token is not valid')
  const now = deps.clock()
  const { config, sessions: settings } = deps
  const tokenHash = hashRefreshToken(request.refreshToken)
  const clientId = request.clientId ?? DEFAULT_CLIENT_ID

  // Fetched before the transaction: see mintAccessToken.
  const signingKey = await getSigningKey(deps.sql, config, now)
  const outcome = await deps.sql.begin(async (tx): Promise<RefreshOutcome> => {
    const session = await lockSessionByTokenHash(tx, tokenHash)
    if (!session) return { kind: 'refused', reason: 'refresh token is not valid' }
    const token = await findRefreshTokenByHash(tx, tokenHash)
    if (!token) return { kind: 'refused', reason: 'refresh token is not valid' }
    const decision = decideRefresh({ session, token, clientId, now, graceSeconds: settings.graceSeconds })

    if (decision.kind === 'reject') return { kind: 'refused', reason: decision.reason }
    if (decision.kind === 'reuse') {
      await revokeSessionForReuse(tx, { session, token, now, ip: request.ip, userAgent: request.userAgent })
      return { kind: 'refused', reason: 'refresh token was already used; the session is revoked' }
    }

    // What the session may still grant: never more than its user holds NOW, so a role, scope
    // or audience an admin removed is gone from the next access token (see boundByUserGrant).
    const held = boundByUserGrant(session, session.userGrant)
    // Narrow before spending anything: a bad scope/resource throws and rolls back.
    const grant = narrowGrant(held, { resource: request.resource, scopes: request.scopes })

    let successor: string
    if (decision.kind === 'replay') {
      successor = openSuccessor(request.refreshToken, token.successorSealed!, session.id)
    } else {
      successor = generateRefreshToken()
      const rotated = await applyRotation(tx, {
        tokenId: token.id,
        session,
        successorHash: hashRefreshToken(successor),
        successorSealed: sealSuccessor(request.refreshToken, successor, session.id),
        now,
        idleExpiresAt: slidIdleExpiry(now, session.absoluteExpiresAt, settings),
        ip: request.ip,
        userAgent: request.userAgent,
      })
      // Cannot happen while we hold the session lock; throwing rolls back the inserted successor.
      if (!rotated) throw new Error('refresh token rotated concurrently despite the session lock')
    }
    const { accessToken, expiresIn } = await mintAccessToken(
      { config, signingKey },
      {
        userId: session.userId,
        sessionId: session.id,
        clientId: session.clientId,
        audiences: audiencesOrIssuer(grant.audiences, settings.issuer),
        scopes: grant.scopes,
        roles: held.roles,
      },
      now,
    )
    return { kind: 'issued', tokens: { accessToken, refreshToken: successor, expiresIn, scope: grant.scopes.join(' '), sessionId: session.id } }
  })
  if (outcome.kind === 'refused') throw new InvalidGrant(outcome.reason)
  return outcome.tokens
}
