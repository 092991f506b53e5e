import type { FullGrant } from './narrow-grant'
import type { SessionSettings } from './session-settings'

/** A session (one refresh-token chain) as locked for a refresh. */
export interface SessionRecord {
  id: string
  userId: string
  clientId: string
  audiences: string[]
  scopes: string[]
  roles: string[]
  createdAt: Date
  lastUsedAt: Date
  idleExpiresAt: Date
  absoluteExpiresAt: Date
  revokedAt: Date | null
  userEnabled: boolean
  /** The user's grant now; the session's is bounded by it (see boundByUserGrant). */
  userGrant: FullGrant
}

/** The presented refresh token's row. */
export interface RefreshTokenRecord {
  id: string
  sessionId: string
  rotatedAt: Date | null
  successorSealed: Buffer | null
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
