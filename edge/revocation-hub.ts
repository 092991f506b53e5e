import { DurableObject } from 'cloudflare:workers'
import { parseEdgeConfig } from './config'
import {
  HUB_COPY_AGE_HEADER,
  HUB_POLL_HEADER,
  HUB_UNAVAILABLE_HEADER,
  describeFailure,
  readFeedAnswer,
  requestCentralFeed,
  type AskRevocationHub,
  type RevocationFeedSettings,
} from './revocations'

/** The copy the hub holds: the feed as central sent it (text, passed on as is) and when central confirmed it. */
interface HubCopy {
  version: string
  body: string
  /** Start of the poll of central that last returned or confirmed this copy. */
  confirmedAtMs: number
}

/** An ask waits at most this long for the hub's own poll of central, then gets the copy the hub has. */
const ASK_WAITS_FOR_CENTRAL_MS = 750
/** After a failed poll of central, an ask triggers another one at most this often (the alarm keeps trying too). */
const RETRY_AFTER_FAILURE_MS = 1000
const FAILURE_LOG_INTERVAL_MS = 10_000

/**
 * The revocation feed for one Cloudflare location: a Durable Object (one per `request.cf.colo`)
 * that polls central on a short alarm while isolates ask it, and answers their "anything newer
 * than version V?" calls from memory — a 304 in the common case. Central's feed traffic therefore
 * grows with locations, not isolates. The alarm stops once no isolate asked for
 * `REVOCATION_HUB_IDLE_SECONDS` (an idle location costs nothing) and the next ask starts it again;
 * an ask finding an old copy (the hub just woke up) waits for one poll of central first.
 *
 * Nothing is written to storage: a hub that is evicted loads the feed again on the next ask.
 * @see https://developers.cloudflare.com/durable-objects/api/alarms/
 */
export class RevocationHub extends DurableObject<Env> {
  private readonly settings: RevocationFeedSettings | undefined
  private copy: HubCopy | undefined
  private lastAskMs = Number.NEGATIVE_INFINITY
  private lastFailureMs = Number.NEGATIVE_INFINITY
  private lastFailureLogMs = Number.NEGATIVE_INFINITY
  private alarmArmed = false
  private inflight: Promise<void> | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.settings = parseEdgeConfig(env as unknown as Record<string, unknown>).revocation
  }

  /** An isolate's ask: `If-None-Match` carries its version; the answer carries the copy's age. */
  override async fetch(request: Request): Promise<Response> {
    const settings = this.settings
    if (!settings) return new Response(null, { status: 404 })
    const nowMs = Date.now()
    this.lastAskMs = nowMs
    if (!this.alarmArmed) {
      this.alarmArmed = true
      await this.ctx.storage.setAlarm(nowMs + settings.hub.pollMs)
    }
    const staleMs = 2 * settings.hub.pollMs
    if ((!this.copy || nowMs - this.copy.confirmedAtMs > staleMs) && nowMs - this.lastFailureMs >= RETRY_AFTER_FAILURE_MS) {
      await Promise.race([this.refresh(settings), new Promise((resolve) => setTimeout(resolve, ASK_WAITS_FOR_CENTRAL_MS))])
    }
    const copy = this.copy
    if (!copy) return new Response(null, { status: 503, headers: { [HUB_UNAVAILABLE_HEADER]: 'central' } })
    const headers = {
      ETag: `"${copy.version}"`,
      'Cache-Control': 'no-store',
      [HUB_COPY_AGE_HEADER]: String(Math.max(0, Date.now() - copy.confirmedAtMs)),
    }
    if (request.headers.get('If-None-Match') === headers.ETag) return new Response(null, { status: 304, headers })
    return new Response(copy.body, { status: 200, headers: { ...headers, 'Content-Type': 'application/json' } })
  }

  /** Polls central while isolates keep asking; stops when they stopped. */
  override async alarm(): Promise<void> {
    const settings = this.settings
    if (!settings || Date.now() - this.lastAskMs > settings.hub.idleSeconds * 1000) {
      this.alarmArmed = false
      return
    }
    await this.refresh(settings)
    await this.ctx.storage.setAlarm(Date.now() + settings.hub.pollMs)
  }

  /** One poll of central at a time; asks and the alarm share it (a Durable Object may share I/O between requests). */
  private refresh(settings: RevocationFeedSettings): Promise<void> {
    this.inflight ??= this.pollCentral(settings).finally(() => {
      this.inflight = undefined
    })
    return this.inflight
  }

  private async pollCentral(settings: RevocationFeedSettings): Promise<void> {
    const startedMs = Date.now()
    const held = this.copy
    try {
      const response = await requestCentralFeed((input, init) => fetch(input, init), settings, held?.version, { [HUB_POLL_HEADER]: '1' })
      // Checked here once, so isolates never receive what they would refuse.
      const answer = await readFeedAnswer(response, held?.version)
      if (answer.kind === 'unchanged') held!.confirmedAtMs = startedMs
      else this.copy = { version: answer.feed.version, body: answer.body, confirmedAtMs: startedMs }
    } catch (error) {
      this.lastFailureMs = Date.now()
      if (this.lastFailureMs - this.lastFailureLogMs >= FAILURE_LOG_INTERVAL_MS) {
        this.lastFailureLogMs = this.lastFailureMs
        console.error(
          JSON.stringify({
            level: 'error',
            msg: 'revocation hub: central poll failed; keeping last good copy',
            error: describeFailure(error),
            copyAgeSeconds: this.copy ? (Date.now() - this.copy.confirmedAtMs) / 1000 : null,
          }),
        )
      }
    }
  }
}

/**
 * How an isolate reaches its location's hub: one object per location name. A stub is made per
 * call (cheap), since workerd ties it to the request that made it.
 */
export function revocationHubClient(namespace: DurableObjectNamespace<RevocationHub>): AskRevocationHub {
  return (location, init) => namespace.get(namespace.idFromName(location)).fetch('https://revocation-hub/feed', init)
}
