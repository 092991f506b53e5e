import type { AccessTokenClaims } from '../shared/access-token-claims'
import { ServiceUnavailable } from '../shared/errors'
import type { RevocationFeedState, RevocationList } from './revocations'

/** What step 4 learned: the worker logs `feed`, and turns `revoked` into a 401 after dropping the token from its cache. */
export type RevocationCheck = { kind: 'revoked' } | { kind: 'not-revoked'; feed: 'fresh' | 'off' | 'unavailable' }

/**
 * Step 4 of the request path: is the token's session (`sid`), its user's not-before marker or its
 * client's (`client_id`) in the cached revocation feed? Runs on every request, also for tokens served from the verified-token cache.
 *
 * - revoked → `{ kind: 'revoked' }` (the caller answers RFC 6750 §3.1 `invalid_token`);
 * - feed unavailable (never loaded, or older than `REVOCATION_MAX_STALENESS_SECONDS`):
 *   `fail-closed` → `ServiceUnavailable` (503 `temporarily_unavailable`); `fail-open` → served on
 *   the last good copy (if any) with a rate-limited warning;
 * - no `EDGE_FEED_TOKEN` (`list` undefined): the feed is off and a token lives until `exp`.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function checkRevocation(
  list: RevocationList | undefined,
  feed: RevocationFeedState | undefined,
  claims: Pick<AccessTokenClaims, 'sid' | 'sub' | 'iat' | 'client_id'>,
  nowMs: number,
): RevocationCheck {
  if (!list || !feed) return { kind: 'not-revoked', feed: 'off' }
  // A copy too old to trust still knows every revocation it ever saw: check it either way.
  if (list.isRevoked(claims)) return { kind: 'revoked' }
  if (feed.kind === 'fresh') return { kind: 'not-revoked', feed: 'fresh' }

  const failClosed = list.settings.failureMode === 'fail-closed'
  if (list.shouldWarnUnavailable(nowMs)) {
    console.warn(
      JSON.stringify({
        level: 'warn',
        msg: failClosed
          ? 'revocation feed unavailable: answering 503 on protected routes (fail-closed)'
          : 'revocation feed unavailable: serving without recent revocations (fail-open)',
        reason: feed.reason,
        ageSeconds: feed.ageSeconds ?? null,
        maxStalenessSeconds: list.settings.maxStalenessSeconds,
        entries: list.size,
      }),
    )
  }
  if (failClosed) {
    // Retry after one poll interval: the next poll may bring the feed back.
    throw new ServiceUnavailable('revocation feed unavailable; try again shortly', list.settings.pollSeconds)
  }
  return { kind: 'not-revoked', feed: 'unavailable' }
}
