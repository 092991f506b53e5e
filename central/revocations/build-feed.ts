import { createHash } from 'node:crypto'
import type { RevocationFeed } from '../../shared/revocation-feed'
import { toClientFeedEntries } from '../clients/client-feed-entries'
import type { RecentRevocations } from './store'

/**
 * The feed's version from the counts and bounds of its entries (see
 * `findRevocationsVersionInputs`). It does not depend on the generation time or on which central
 * instance answers — nothing lives in a process's memory — so an unchanged feed is a 304 anywhere.
 */
export function revocationFeedVersion(versionInputs: string): string {
  return createHash('sha256').update(versionInputs).digest('base64url').slice(0, 22)
}

/** Shapes the feed in wire form (epoch seconds, like JWT claims). */
export function buildRevocationFeed(revocations: RecentRevocations, version: string, now: Date, windowSeconds: number): RevocationFeed {
  return {
    version,
    keys_version: revocationFeedVersion(revocations.keySetVersionInputs),
    generated_at: epochSeconds(now),
    window_seconds: windowSeconds,
    sessions: revocations.sessions.map((s) => ({ sid: s.sessionId, revoked_at: epochSeconds(s.revokedAt) })),
    users: revocations.users.map((u) => ({ sub: u.userId, not_before: epochSeconds(u.notBefore) })),
    clients: toClientFeedEntries(revocations.clients),
  }
}

function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000)
}
