import { z } from 'zod'
import { RevocationFeedSchema, type RevocationFeed } from '../shared/revocation-feed'

export type RevocationFailureMode = 'fail-open' | 'fail-closed'

/** Parsed from the Worker's vars by `edge/config.ts`. */
export interface RevocationFeedSettings {
  /** Central's `GET /edge/revocations`. */
  url: string
  /** Shared secret (wrangler secret EDGE_FEED_TOKEN). */
  token: string
  /** Poll at most this often; requests never wait for a poll once the isolate is warm. */
  pollSeconds: number
  /** Past this age without a successful poll the feed counts as unavailable. */
  maxStalenessSeconds: number
  failureMode: RevocationFailureMode
  /** A poll that takes longer is abandoned (the last good copy stays). */
  fetchTimeoutMs: number
}

/** What a request learns about the feed: usable, or unavailable (never loaded / too stale). */
export type RevocationFeedState =
  | { kind: 'fresh' }
  | { kind: 'unavailable'; reason: 'never-loaded' | 'stale'; ageSeconds?: number }

export interface TokenIdentity {
  sid: string
  sub: string
  /** `iat` claim, epoch seconds. */
  iat: number
}

/**
 * The revocation feed held in isolate memory: a set of revoked session ids and a map of
 * per-user not-before times. Checking a token is two map lookups; refreshing happens in the
 * background (stale-while-revalidate through `waitUntil`), so a busy isolate never makes a
 * request wait on central. Revocation therefore reaches this isolate within `pollSeconds` plus
 * one round trip, with zero central calls on the request path.
 *
 * When to poll (`stateForRequest`), by the time since the last poll attempt:
 * - never loaded: the request awaits the first load (at most one try a second while central is down);
 * - ≥ `pollSeconds`: one background poll, the request is answered from the current copy;
 * - ≥ 2 × `pollSeconds`: the isolate sat idle, its copy may be far behind, so this one request
 *   awaits the poll (a 304 in the common case). Under steady traffic this never happens, and no
 *   request is answered from a copy older than 2 × `pollSeconds` while central is reachable;
 * - fail-closed with a copy past max staleness: the request that would be refused awaits the
 *   poll instead, so service resumes on the first request after the feed is back.
 *
 * Deliberately no promise is shared between requests: workerd ties I/O to the request that
 * started it, so a cold isolate's concurrent first requests each load the feed themselves.
 * @see https://developers.cloudflare.com/workers/runtime-apis/context/#waituntil
 */
export class RevocationList {
  private revokedSessions = new Set<string>()
  private userNotBefore = new Map<string, number>()
  private version: string | undefined
  private lastSuccessMs: number | undefined
  private lastAttemptMs = Number.NEGATIVE_INFINITY
  private lastFailureMs = Number.NEGATIVE_INFINITY
  private lastUnavailableWarningMs = Number.NEGATIVE_INFINITY
  // Polls can overlap when one outlives the poll interval; an older answer must not replace a newer one.
  private pollsStarted = 0
  private appliedPoll = 0

  constructor(
    readonly settings: RevocationFeedSettings,
    private readonly fetchFeed: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  /** Entries in the current copy (sessions + users), for logs. */
  get size(): number {
    return this.revokedSessions.size + this.userNotBefore.size
  }

  /**
   * Makes sure the feed is loaded (awaiting only on a cold or long-idle isolate) and schedules a
   * background poll when the last attempt is older than the poll interval. Returns the state itself
   * when nothing needs awaiting (a warm isolate, every request but a few), so the request path skips
   * an `await`.
   */
  stateForRequest(nowMs: number, waitUntil: (promise: Promise<unknown>) => void): RevocationFeedState | Promise<RevocationFeedState> {
    const pollMs = this.settings.pollSeconds * 1000
    const sinceAttemptMs = nowMs - this.lastAttemptMs
    if (this.lastSuccessMs === undefined) {
      // Cold isolate: this request must know the feed. While central is down, try at most
      // once a second so cold requests do not each wait out a timeout.
      if (nowMs - this.lastFailureMs >= 1000) return this.pollThenState(nowMs)
    } else if (sinceAttemptMs >= 2 * pollMs) {
      return this.pollThenState(nowMs)
    } else if (sinceAttemptMs >= pollMs && this.settings.failureMode === 'fail-closed' && this.state(nowMs).kind === 'unavailable') {
      // This request would be refused anyway; waiting for the poll can only let it through.
      return this.pollThenState(nowMs)
    } else if (sinceAttemptMs >= pollMs) {
      waitUntil(this.poll(nowMs))
    }
    return this.state(nowMs)
  }

  private async pollThenState(nowMs: number): Promise<RevocationFeedState> {
    await this.poll(nowMs)
    return this.state(nowMs)
  }

  state(nowMs: number): RevocationFeedState {
    if (this.lastSuccessMs === undefined) return { kind: 'unavailable', reason: 'never-loaded' }
    const ageSeconds = (nowMs - this.lastSuccessMs) / 1000
    if (ageSeconds > this.settings.maxStalenessSeconds) return { kind: 'unavailable', reason: 'stale', ageSeconds }
    return { kind: 'fresh' }
  }

  /** True when the token's session was revoked, or its user logged out everywhere after it was issued. */
  isRevoked(token: TokenIdentity): boolean {
    if (this.revokedSessions.has(token.sid)) return true
    const notBefore = this.userNotBefore.get(token.sub)
    // Strict: not_before is floored to the second, and every session alive at a
    // logout-all is also listed by sid, so a token minted in that same second after the
    // logout (a fresh login) stays valid while older ones are caught either way.
    return notBefore !== undefined && token.iat < notBefore
  }

  /**
   * Rate limit for the "serving without a usable feed" warning: true at most once per poll
   * interval (at least 10 s), so an outage is loud in the logs without one line per request.
   */
  shouldWarnUnavailable(nowMs: number): boolean {
    if (nowMs - this.lastUnavailableWarningMs < Math.max(10, this.settings.pollSeconds) * 1000) return false
    this.lastUnavailableWarningMs = nowMs
    return true
  }

  /** One poll: 200 replaces the in-memory copy, 304 confirms it, anything else keeps the last good copy. */
  async poll(nowMs: number): Promise<void> {
    this.lastAttemptMs = nowMs
    const pollNumber = ++this.pollsStarted
    const headers: Record<string, string> = { Authorization: `Bearer ${this.settings.token}` }
    if (this.version) headers['If-None-Match'] = `"${this.version}"`
    try {
      const response = await this.fetchFeed(this.settings.url, {
        headers,
        signal: AbortSignal.timeout(this.settings.fetchTimeoutMs),
      })
      if (response.status === 304 && this.version) {
        if (pollNumber > this.appliedPoll) {
          this.appliedPoll = pollNumber
          this.lastSuccessMs = nowMs
        }
        return
      }
      if (!response.ok) {
        await response.body?.cancel()
        throw new Error(`revocation feed answered ${response.status}`)
      }
      const feed = parseRevocationFeed(await response.json())
      if (pollNumber > this.appliedPoll) this.replace(feed, nowMs, pollNumber)
    } catch (error) {
      this.lastFailureMs = nowMs
      console.error(
        JSON.stringify({
          level: 'error',
          msg: 'revocation feed poll failed; keeping last good copy',
          error: describeFailure(error),
          lastSuccessAgeSeconds: this.lastSuccessMs === undefined ? null : (nowMs - this.lastSuccessMs) / 1000,
        }),
      )
    }
  }

  private replace(feed: RevocationFeed, nowMs: number, pollNumber: number): void {
    this.revokedSessions = new Set(feed.sessions.map((entry) => entry.sid))
    this.userNotBefore = new Map(feed.users.map((entry) => [entry.sub, entry.not_before]))
    this.version = feed.version
    this.lastSuccessMs = nowMs
    this.appliedPoll = pollNumber
  }
}

const FeedEnvelopeSchema = RevocationFeedSchema.extend({ sessions: z.array(z.unknown()), users: z.array(z.unknown()) })

/**
 * `RevocationFeedSchema` with the entries checked by a plain loop: zod per entry cost ~15 ms of
 * isolate CPU for a 10k-entry feed on every change (half the reload), and a reload runs in the
 * isolate that also serves requests. Same rules as the shared schema: non-empty strings, integers.
 */
export function parseRevocationFeed(body: unknown): RevocationFeed {
  const envelope = FeedEnvelopeSchema.parse(body)
  envelope.sessions.forEach((entry, index) => {
    const e = entry as { sid?: unknown; revoked_at?: unknown } | null
    if (!e || typeof e.sid !== 'string' || e.sid === '' || !Number.isInteger(e.revoked_at)) throw new InvalidFeedEntry('sessions', index)
  })
  envelope.users.forEach((entry, index) => {
    const e = entry as { sub?: unknown; not_before?: unknown } | null
    if (!e || typeof e.sub !== 'string' || e.sub === '' || !Number.isInteger(e.not_before)) throw new InvalidFeedEntry('users', index)
  })
  return envelope as RevocationFeed
}

class InvalidFeedEntry extends Error {
  constructor(list: string, index: number) {
    super(`feed entry ${list}[${index}] does not match the wire format`)
    this.name = 'InvalidFeedEntry'
  }
}

/** A short reason for the log line: zod's full issue list would be one line per bad entry. */
function describeFailure(error: unknown): string {
  if (error instanceof z.ZodError) return `feed body does not match the wire format (${error.issues.length} issue(s), first at ${error.issues[0]?.path.join('.') || '(root)'})`
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}
