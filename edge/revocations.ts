import { RevocationFeedSchema, type RevocationFeed } from '../shared/revocation-feed'

export type RevocationFailureMode = 'fail-open' | 'fail-closed'

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
 * background (stale-while-revalidate through `waitUntil`), so after the first load no request
 * waits on central. Revocation therefore reaches this isolate within `pollSeconds` plus one
 * round trip, with zero central calls on the request path.
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

  constructor(
    private readonly settings: RevocationFeedSettings,
    private readonly fetchFeed: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  /**
   * Makes sure the feed is loaded (awaiting only on a cold isolate) and schedules a background
   * poll when the last attempt is older than the poll interval.
   */
  async prepare(nowMs: number, waitUntil: (promise: Promise<unknown>) => void): Promise<RevocationFeedState> {
    if (this.lastSuccessMs === undefined) {
      // Cold isolate: this request must know the feed. While central is down, try at most
      // once a second so cold requests do not each wait out a timeout.
      if (nowMs - this.lastFailureMs >= 1000) await this.poll(nowMs)
    } else if (nowMs - this.lastAttemptMs >= this.settings.pollSeconds * 1000) {
      waitUntil(this.poll(nowMs))
    }
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

  /** One poll: 200 replaces the in-memory copy, 304 confirms it, anything else keeps the last good copy. */
  async poll(nowMs: number): Promise<void> {
    this.lastAttemptMs = nowMs
    const headers: Record<string, string> = { Authorization: `Bearer ${this.settings.token}` }
    if (this.version) headers['If-None-Match'] = `"${this.version}"`
    try {
      const response = await this.fetchFeed(this.settings.url, {
        headers,
        signal: AbortSignal.timeout(this.settings.fetchTimeoutMs),
      })
      if (response.status === 304 && this.version) {
        this.lastSuccessMs = nowMs
        return
      }
      if (!response.ok) throw new Error(`revocation feed answered ${response.status}`)
      this.replace(RevocationFeedSchema.parse(await response.json()), nowMs)
    } catch (error) {
      this.lastFailureMs = nowMs
      console.error(
        JSON.stringify({
          level: 'error',
          msg: 'revocation feed poll failed; keeping last good copy',
          error: error instanceof Error ? error.message : String(error),
          lastSuccessAgeSeconds: this.lastSuccessMs === undefined ? null : (nowMs - this.lastSuccessMs) / 1000,
        }),
      )
    }
  }

  private replace(feed: RevocationFeed, nowMs: number): void {
    this.revokedSessions = new Set(feed.sessions.map((entry) => entry.sid))
    this.userNotBefore = new Map(feed.users.map((entry) => [entry.sub, entry.not_before]))
    this.version = feed.version
    this.lastSuccessMs = nowMs
  }
}
