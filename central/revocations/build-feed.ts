import { createHash } from 'node:crypto'
import type { RevocationFeed } from '../../shared/revocation-feed'
import type { RecentRevocations } from './store'

/** How far back the feed reaches: a token older than this has expired anyway. */
export function feedWindowSeconds(accessTokenTtlSeconds: number, clockToleranceSeconds: number): number {
  return accessTokenTtlSeconds + clockToleranceSeconds
}

/**
 * Shapes the feed. `version` hashes the entries only (not the generation time), so two polls
 * that see the same revocations get the same version and the second one can be a 304 —
 * on any central instance, since nothing here lives in a process's memory.
 */
export function buildRevocationFeed(revocations: RecentRevocations, now: Date, windowSeconds: number): RevocationFeed {
  const sessions = revocations.sessions.map((s) => ({ sid: s.sessionId, revoked_at: epochSeconds(s.revokedAt) }))
  const users = revocations.users.map((u) => ({ sub: u.userId, not_before: epochSeconds(u.notBefore) }))
  const version = createHash('sha256').update(JSON.stringify([sessions, users])).digest('base64url').slice(0, 22)
  return { version, generated_at: epochSeconds(now), window_seconds: windowSeconds, sessions, users }
}

function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000)
}
