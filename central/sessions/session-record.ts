import type { FullGrant } from './narrow-grant'
import type { SessionSettings } from './session-settings'

/** A session (one refresh-token chain) as a refresh reads it: the row, its chain state and its user. */
export interface SessionRecord {
  id: string
  userId: string
  clientId: string
  audiences: string[]
  scopes: string[]
  roles: string[]
  createdAt: Date
  /** When the current refresh token was issued: the previous one rotated then (start of the grace window). */
  lastUsedAt: Date
  idleExpiresAt: Date
  absoluteExpiresAt: Date
  revokedAt: Date | null
  userEnabled: boolean
  /** The user's grant now; the session's is bounded by it (see boundByUserGrant). */
  userGrant: FullGrant
  chain: RefreshChain
  /** RFC 7638 thumbprint of the DPoP key the chain is bound to, or null (RFC 9449 §5). */
  dpopJkt: string | null
}

/** The refresh-token state kept on the session row: O(1) per session, whatever the number of refreshes. */
export interface RefreshChain {
  /** SHA-256 of the token that may rotate now (null only for sessions that ended before the row held it). */
  tokenHash: Buffer | null
  /** Its position in the chain. */
  generation: number
  /** SHA-256 of the token it replaced, or null before the first rotation. */
  previousTokenHash: Buffer | null
  /** The salt the current token was derived with from the previous one (see successorRefreshToken). */
  successorSalt: Buffer | null
  /**
   * The current token sealed under a key derived from the previous one, on rows last rotated by
   * the release before successors were derived; null on all others.
   */
  successorSealed: Buffer | null
  /** Who presented the previous token (the reuse audit names both presenters). */
  rotatedIp: string | null
  rotatedUserAgent: string | null
}

export type SessionState = 'active' | 'revoked' | 'expired'

/** What a user or ops see about a session. */
export interface SessionView {
  id: string
  userId: string
  createdAt: Date
  lastUsedAt: Date
  userAgent: string | null
  ip: string | null
  clientId: string
  audiences: string[]
  scopes: string[]
  state: SessionState
  idleExpiresAt: Date
  absoluteExpiresAt: Date
  revokedAt: Date | null
  revokedReason: string | null
  revokedBy: string | null
}

export function sessionState(s: { revokedAt: Date | null; idleExpiresAt: Date; absoluteExpiresAt: Date }, now: Date): SessionState {
  if (s.revokedAt) return 'revoked'
  if (s.idleExpiresAt <= now || s.absoluteExpiresAt <= now) return 'expired'
  return 'active'
}

/** The lifetimes of a session started at `now`: idle and absolute, the idle one never past the absolute. */
export function newSessionExpiry(now: Date, settings: Pick<SessionSettings, 'idleTtlSeconds' | 'absoluteTtlSeconds'>) {
  const absoluteExpiresAt = new Date(now.getTime() + settings.absoluteTtlSeconds * 1000)
  return { idleExpiresAt: slidIdleExpiry(now, absoluteExpiresAt, settings), absoluteExpiresAt }
}

/** The idle expiry of a session used at `now`: slid forward, never past its absolute expiry. */
export function slidIdleExpiry(now: Date, absoluteExpiresAt: Date, settings: Pick<SessionSettings, 'idleTtlSeconds'>): Date {
  return new Date(Math.min(now.getTime() + settings.idleTtlSeconds * 1000, absoluteExpiresAt.getTime()))
}
