import { randomUUID } from 'node:crypto'
import { recordAuditEvent } from '../audit/store'
import type { Queryable } from '../db/pool'
import { mintAccessToken } from '../tokens/mint-access-token'
import { getSigningKey } from '../tokens/signing-keys'
import { lockUserForSignIn } from '../users/store'
import { generateRefreshToken, sha256RefreshToken } from './refresh-token'
import { boundByUserGrant, type FullGrant } from './narrow-grant'
import { newSessionExpiry } from './session-record'
import type { SessionDeps } from './session-settings'
import { insertSession } from './store'
import { audiencesOrIssuer, type TokenSet } from './token-set'
import { DEFAULT_CLIENT_ID } from './default-client'


/** How the user proved who they are; every sign-in path ends in the same session. */
export type SignInMethod =
  /**
   * A password login, with the stored hash it was verified against
   * (AuthenticatedUser.verifiedPasswordHash): refused when the hash differs under the lock,
   * i.e. the password changed after it was verified.
   */
  | { kind: 'password'; verifiedPasswordHash: string }
  /** `POST /admin/sessions`: the caller's own login system vouches for the subject. */
  | { kind: 'vouched' }
  /** An upstream identity provider vouches for the subject. */
  | { kind: 'federated'; provider: string }

export interface SessionStart {
  /** The user and the grant asked for; the session gets what of it the user still holds. */
  user: FullGrant & { id: string }
  method: SignInMethod
  clientId?: string
  userAgent?: string | null
  ip?: string | null
  /** Who started it: 'user' for a login, 'admin:<name>' for `POST /admin/sessions`. */
  actor: string
  /**
   * RFC 7638 thumbprint of the key of a verified DPoP proof sent with the request: the chain is
   * bound to it (every refresh needs a proof by that key) and so is the access token (`cnf.jkt`).
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
   */
  dpopJkt?: string
  /**
   * Writes that must commit with the session or not at all (a federated session's provider
   * record, which back-channel logout looks sessions up by), run in its transaction.
   */
  afterInsert?: (tx: Queryable, sessionId: string) => Promise<void>
  /**
   * Roles the identity provider asserted at this sign-in: this session holds them (when
   * `user.roles` asks for them) without the user holding them. See `NewSession.assertedRoles`.
   */
  assertedRoles?: string[]
}

export type SessionStartResult =
  | { kind: 'started'; tokens: TokenSet }
  /** The user is gone or disabled, or (password) changed their password, since the caller checked. */
  | { kind: 'refused' }

/**
 * One sign-in = one session: a session row, its first refresh token (stored as a hash) and an
 * access token carrying the session's grant. Session, token and audit event commit together,
 * after the user is read again under a share lock: a user disabled, or given a new password,
 * since the caller checked (a login's argon2 takes a while) gets no session, and the grant is
 * bounded by what the user holds at that moment. The caller decides how to answer a refusal.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export async function startSession(deps: SessionDeps, start: SessionStart): Promise<SessionStartResult> {
  const now = deps.clock()
  const { config, sessions: settings } = deps
  // Chosen here: the first refresh token names its session.
  const sessionId = randomUUID()
  const refreshToken = generateRefreshToken(settings.chainKey, sessionId, 0)
  const clientId = start.clientId ?? DEFAULT_CLIENT_ID
  const { idleExpiresAt, absoluteExpiresAt } = newSessionExpiry(now, settings)
  const verifiedPasswordHash = start.method.kind === 'password' ? start.method.verifiedPasswordHash : undefined
  // Fetched before the transaction: see mintAccessToken.
  const signingKey = await getSigningKey(deps.sql, config, now)
  const tokens = await deps.sql.begin(async (tx) => {
    const holder = await lockUserForSignIn(tx, start.user.id, { verifiedPasswordHash })
    if (!holder) return undefined
    // Within what the user holds now: an admin may have removed a grant since the caller read it.
    const assertedRoles = start.assertedRoles ?? []
    const grant = boundByUserGrant(start.user, { ...holder, roles: [...holder.roles, ...assertedRoles] })
    await insertSession(tx, {
      id: sessionId,
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
      tokenHash: sha256RefreshToken(refreshToken),
      dpopJkt: start.dpopJkt ?? null,
      assertedRoles,
    })
    await start.afterInsert?.(tx, sessionId)
    await recordAuditEvent(tx, {
      type: 'session.created',
      at: now,
      actor: start.actor,
      userId: start.user.id,
      sessionId,
      details: {
        clientId,
        ip: start.ip ?? null,
        userAgent: start.userAgent ?? null,
        ...(start.method.kind === 'federated' ? { provider: start.method.provider } : {}),
      },
    })
    const { accessToken, expiresIn } = await mintAccessToken(
      { config, signingKey },
      {
        userId: start.user.id,
        sessionId,
        clientId,
        audiences: audiencesOrIssuer(grant.audiences, settings.issuer),
        scopes: grant.scopes,
        roles: grant.roles,
        confirmationJkt: start.dpopJkt,
      },
      now,
    )
    return { accessToken, refreshToken, expiresIn, scope: grant.scopes.join(' '), sessionId, confirmationJkt: start.dpopJkt }
  })
  return tokens ? { kind: 'started', tokens } : { kind: 'refused' }
}
