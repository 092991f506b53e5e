import { z } from 'zod'
import { RevocationFeedSchema, type RevocationFeed } from '../shared/revocation-feed'

export type RevocationFailureMode = 'fail-open' | 'fail-closed'

/** Parsed from the Worker's vars by `edge/config.ts`. */
export interface RevocationFeedSettings {
  /** Central's `GET /edge/revocations`. */
  url: string
  /** Shared secret (wrangler secret EDGE_FEED_TOKEN). */
  token: string
  /** A copy older than this is refreshed in the background (the request is answered from it). */
  pollSeconds: number
  /** A copy older than this is refreshed before the request is answered: the revocation bound. */
  trustSeconds: number
  /** Past this age without a successful poll the feed counts as unavailable. */
  maxStalenessSeconds: number
  failureMode: RevocationFailureMode
  /** A poll of central that takes longer is abandoned (the last good copy stays). */
  fetchTimeoutMs: number
  /** The per-location hub (a Durable Object), used when the Worker has the binding. */
  hub: RevocationHubSettings
}

export interface RevocationHubSettings {
  /** How often the hub polls central while isolates ask it. */
  pollMs: number
  /** The hub stops polling after this long without an isolate asking. */
  idleSeconds: number
  /** An isolate's call to its hub that takes longer is abandoned for a direct poll of central. */
  timeoutMs: number
}

/** What a request learns about the feed: usable, or unavailable (never loaded / too stale). */
export type RevocationFeedState =
  | { kind: 'fresh' }
  | { kind: 'unavailable'; reason: 'never-loaded' | 'stale'; ageSeconds?: number }

export interface TokenIdentity {
  sid: string
  sub: string
  /** The client the token was issued to; its marker covers machine and user tokens alike. */
  client_id?: string
  /** `iat` claim, epoch seconds. */
  iat: number
}

/** Calls the location's hub (`edge/revocation-hub.ts`); absent without the Durable Object binding. */
export type AskRevocationHub = (location: string, init: RequestInit) => Promise<Response>

/** Response header of the hub: how old its copy is (ms since the poll of central that confirmed it started). */
export const HUB_COPY_AGE_HEADER = 'Portcullis-Feed-Age-Ms'
/** Set by the hub when it has no copy because central does not answer it: no point polling central directly. */
export const HUB_UNAVAILABLE_HEADER = 'Portcullis-Hub-Unavailable'
/** Request header on the hub's polls of central, so central (and tests) can tell them from isolates' direct polls. */
export const HUB_POLL_HEADER = 'Portcullis-Revocation-Hub'
/** The location name when a request carries no `cf.colo` (local workerd, tests). */
export const DEFAULT_HUB_LOCATION = 'default'

export interface RevocationListOptions {
  /** Fetch for central (tests pass a fake). */
  fetchFeed?: typeof fetch
  /** The hub; without it every isolate polls central directly (self-hosted workerd, no binding). */
  askHub?: AskRevocationHub
  /** Called when the feed's signing key set version changes (not on the first load): refetch the JWKS now. */
  onKeySetChanged?: (nowMs: number) => Promise<void> | undefined
}

/** After a failed refresh, requests wait for another one at most this often (the rest are answered at once). */
const RETRY_AFTER_FAILURE_MS = 1000

/** One answer about the copy: what it is now, and when central last confirmed it (poll start). */
type CopyAnswer = { kind: 'unchanged'; confirmedAtMs: number } | { kind: 'changed'; feed: RevocationFeed; confirmedAtMs: number }

/**
 * The revocation feed held in isolate memory: a set of revoked session ids and a map of
 * per-user not-before times. Checking a token is two map lookups. The copy's age is the time
 * since central confirmed it (for a copy from the hub, since the hub's poll of central started),
 * and a request is never answered from a copy older than `trustSeconds` while the feed answers:
 * a revocation reaches every request within that bound, whatever the traffic pattern.
 *
 * When to refresh (`stateForRequest`), by the copy's age:
 * - under `pollSeconds`: nothing (a warm, busy isolate: no await, no call);
 * - from `pollSeconds`: one background refresh (`waitUntil`), the request is answered from the copy;
 * - from `trustSeconds` (a cold isolate, or one that sat idle): the request awaits the refresh,
 *   one cheap call to the hub in the common case. After a failed refresh (feed down, hub with
 *   only an old copy) only one request a second waits, so an outage never makes requests queue
 *   on timeouts; the rest are answered from the copy under the fail-open / fail-closed rules.
 *
 * A refresh asks the location's hub (a Durable Object that polls central for every isolate of the
 * location) when the binding is there, and central directly when it is not or the hub fails.
 *
 * Deliberately no promise is shared between requests: workerd ties I/O to the request that
 * started it, so concurrent requests that must wait each make their own (cheap) call.
 * @see https://developers.cloudflare.com/workers/runtime-apis/context/#waituntil
 */
export class RevocationList {
  private revokedSessions = new Set<string>()
  private userNotBefore = new Map<string, number>()
  private clientNotBefore = new Map<string, number>()
  private version: string | undefined
  private keysVersion: string | undefined
  private lastSuccessMs: number | undefined
  private lastAttemptMs = Number.NEGATIVE_INFINITY
  private lastFailureMs = Number.NEGATIVE_INFINITY
  private lastUnavailableWarningMs = Number.NEGATIVE_INFINITY
  private lastHubWarningMs = Number.NEGATIVE_INFINITY
  private location: string | undefined
  // Refreshes can overlap; an older answer must not replace a newer one.
  private pollsStarted = 0
  private appliedPoll = 0
  private readonly fetchFeed: typeof fetch
  private readonly askHub: AskRevocationHub | undefined
  private readonly onKeySetChanged: RevocationListOptions['onKeySetChanged']

  constructor(
    readonly settings: RevocationFeedSettings,
    options: RevocationListOptions = {},
  ) {
    // Unbound `fetch` throws "Illegal invocation" on workerd.
    this.fetchFeed = options.fetchFeed ?? ((input, init) => fetch(input, init))
    this.askHub = options.askHub
    this.onKeySetChanged = options.onKeySetChanged
  }

  /** Entries in the current copy (sessions + users + clients), for logs. */
  get size(): number {
    return this.revokedSessions.size + this.userNotBefore.size + this.clientNotBefore.size
  }

  /** Where the copy comes from: the location's hub, or central directly. */
  get source(): 'hub' | 'central' {
    return this.askHub ? 'hub' : 'central'
  }

  /**
   * Makes sure the copy is recent enough for this request (awaiting only on a cold or idle
   * isolate) and schedules a background refresh once it is `pollSeconds` old. Returns the state
   * itself when nothing needs awaiting (a warm isolate, every request but a few), so the request
   * path skips an `await`. `location` names the hub (`request.cf.colo`); the first one seen sticks.
   */
  stateForRequest(
    nowMs: number,
    waitUntil: (promise: Promise<unknown>) => void,
    location?: unknown,
  ): RevocationFeedState | Promise<RevocationFeedState> {
    if (typeof location === 'string' && location && !this.location) this.location = location
    const pollMs = this.settings.pollSeconds * 1000
    const trustMs = this.settings.trustSeconds * 1000
    const ageMs = this.lastSuccessMs === undefined ? Number.POSITIVE_INFINITY : nowMs - this.lastSuccessMs
    if (ageMs >= trustMs && nowMs - this.lastFailureMs >= RETRY_AFTER_FAILURE_MS) {
      // Also handed to waitUntil: a request that fails before awaiting it (a bad token) must not
      // cancel the refresh, or the key set change it may carry would never land.
      const refreshed = this.pollThenState(nowMs)
      waitUntil(refreshed)
      return refreshed
    }
    // One background refresh at a time in practice: the next may start once this gap has passed.
    const backgroundGapMs = Math.max(pollMs / 4, Math.min(pollMs, trustMs - pollMs))
    if (ageMs >= pollMs && nowMs - this.lastAttemptMs >= backgroundGapMs) waitUntil(this.poll(nowMs))
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
    if (notBefore !== undefined && token.iat < notBefore) return true
    // Clients disabled, deleted, rotated or narrowed. Central rounds these markers up and issues a
    // client's next tokens at or after that second, so `iat < not_before` is exact here, too.
    const clientNotBefore = token.client_id === undefined ? undefined : this.clientNotBefore.get(token.client_id)
    return clientNotBefore !== undefined && token.iat < clientNotBefore
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

  /**
   * One refresh: from the hub when there is one (central directly when the hub fails), else from
   * central. A new copy replaces the in-memory one, an unchanged answer confirms it, a failure
   * keeps the last good copy.
   */
  async poll(nowMs: number): Promise<void> {
    this.lastAttemptMs = nowMs
    const pollNumber = ++this.pollsStarted
    try {
      const answer = this.askHub ? await this.fromHubOrCentral(this.askHub, nowMs) : await this.fromCentral(nowMs)
      if (pollNumber <= this.appliedPoll) return
      if (answer.kind === 'changed') await this.replace(answer.feed, nowMs)
      this.appliedPoll = pollNumber
      this.lastSuccessMs = Math.max(this.lastSuccessMs ?? Number.NEGATIVE_INFINITY, answer.confirmedAtMs)
      // The hub answered with a copy it could not confirm lately (central down for it): requests
      // must not each wait for the same old answer.
      if (nowMs - answer.confirmedAtMs >= this.settings.trustSeconds * 1000) this.lastFailureMs = nowMs
    } catch (error) {
      this.lastFailureMs = nowMs
      console.error(
        JSON.stringify({
          level: 'error',
          msg: 'revocation feed poll failed; keeping last good copy',
          source: this.source,
          error: describeFailure(error),
          lastSuccessAgeSeconds: this.lastSuccessMs === undefined ? null : (nowMs - this.lastSuccessMs) / 1000,
        }),
      )
    }
  }

  private async fromHubOrCentral(askHub: AskRevocationHub, nowMs: number): Promise<CopyAnswer> {
    let response: Response
    try {
      response = await askHub(this.location ?? DEFAULT_HUB_LOCATION, {
        headers: this.version ? { 'If-None-Match': `"${this.version}"` } : {},
        signal: AbortSignal.timeout(this.settings.hub.timeoutMs),
      })
    } catch (error) {
      return this.fromCentralAfterHubFailure(nowMs, describeFailure(error))
    }
    if (response.headers.has(HUB_UNAVAILABLE_HEADER)) {
      // The hub is fine; central does not answer it. Polling central from here too would only add load.
      await response.body?.cancel()
      throw new Error('revocation hub has no copy yet: central does not answer it')
    }
    const ageMs = Number(response.headers.get(HUB_COPY_AGE_HEADER))
    if ((response.status !== 200 && response.status !== 304) || !Number.isFinite(ageMs) || ageMs < 0) {
      await response.body?.cancel()
      return this.fromCentralAfterHubFailure(nowMs, `revocation hub answered ${response.status}`)
    }
    return this.readAnswer(response, nowMs - ageMs)
  }

  private fromCentralAfterHubFailure(nowMs: number, reason: string): Promise<CopyAnswer> {
    if (nowMs - this.lastHubWarningMs >= 10_000) {
      this.lastHubWarningMs = nowMs
      console.warn(JSON.stringify({ level: 'warn', msg: 'revocation hub failed; polling central directly', reason }))
    }
    return this.fromCentral(nowMs)
  }

  private async fromCentral(nowMs: number): Promise<CopyAnswer> {
    return this.readAnswer(await requestCentralFeed(this.fetchFeed, this.settings, this.version), nowMs)
  }

  private async readAnswer(response: Response, confirmedAtMs: number): Promise<CopyAnswer> {
    const answer = await readFeedAnswer(response, this.version)
    return answer.kind === 'unchanged' ? { kind: 'unchanged', confirmedAtMs } : { kind: 'changed', feed: answer.feed, confirmedAtMs }
  }

  private async replace(feed: RevocationFeed, nowMs: number): Promise<void> {
    this.revokedSessions = new Set(feed.sessions.map((entry) => entry.sid))
    this.userNotBefore = new Map(feed.users.map((entry) => [entry.sub, entry.not_before]))
    // Absent from centrals without client registration.
    this.clientNotBefore = new Map((feed.clients ?? []).map((entry) => [entry.client_id, entry.not_before]))
    this.version = feed.version
    const keysChanged = this.keysVersion !== undefined && feed.keys_version !== undefined && feed.keys_version !== this.keysVersion
    if (feed.keys_version !== undefined) this.keysVersion = feed.keys_version
    // A rotation or an unpublished key: refetch the JWKS now, past its unknown-kid cooldown, as
    // part of this refresh (so within the same waitUntil, or before the waiting request goes on).
    if (keysChanged) await this.onKeySetChanged?.(nowMs)
  }
}

const FeedEnvelopeSchema = RevocationFeedSchema.extend({
  sessions: z.array(z.unknown()),
  users: z.array(z.unknown()),
  clients: z.array(z.unknown()).optional(),
})

/**
 * `RevocationFeedSchema` with the entries checked by a plain loop: zod per entry cost ~15 ms of
 * isolate CPU for a 10k-entry feed on every change (half the reload), and a reload runs in the
 * isolate that also serves requests. Same rules as the shared schema: non-empty strings, integers.
 */
/**
 * A conditional GET of central's feed (its token, `If-None-Match` on the version held, the fetch
 * timeout), as isolates and the hub poll it; `headers` adds to it.
 */
export function requestCentralFeed(
  fetchFeed: typeof fetch,
  settings: RevocationFeedSettings,
  version: string | undefined,
  headers: Record<string, string> = {},
): Promise<Response> {
  const all: Record<string, string> = { Authorization: `Bearer ${settings.token}`, ...headers }
  if (version) all['If-None-Match'] = `"${version}"`
  return fetchFeed(settings.url, { headers: all, signal: AbortSignal.timeout(settings.fetchTimeoutMs) })
}

/**
 * The answer to a conditional feed request (central's or the hub's): `unchanged` (304 to the
 * version held), or the feed, checked, with its text. Anything else throws.
 */
export async function readFeedAnswer(
  response: Response,
  version: string | undefined,
): Promise<{ kind: 'unchanged' } | { kind: 'changed'; feed: RevocationFeed; body: string }> {
  if (response.status === 304 && version) return { kind: 'unchanged' }
  if (!response.ok || response.status === 304) {
    await response.body?.cancel()
    throw new Error(`revocation feed answered ${response.status}`)
  }
  const body = await response.text()
  return { kind: 'changed', feed: parseRevocationFeed(JSON.parse(body)), body }
}

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
  envelope.clients?.forEach((entry, index) => {
    const e = entry as { client_id?: unknown; not_before?: unknown } | null
    if (!e || typeof e.client_id !== 'string' || e.client_id === '' || !Number.isInteger(e.not_before)) throw new InvalidFeedEntry('clients', index)
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
export function describeFailure(error: unknown): string {
  if (error instanceof z.ZodError) return `feed body does not match the wire format (${error.issues.length} issue(s), first at ${error.issues[0]?.path.join('.') || '(root)'})`
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}
