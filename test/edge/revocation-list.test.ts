import { describe, expect, it } from 'vitest'
import { RevocationList, type RevocationFeedSettings } from '../../edge/revocations'
import type { RevocationFeed } from '../../shared/revocation-feed'

const settings: RevocationFeedSettings = {
  url: 'http://central.test/edge/revocations',
  token: 'feed-token-0123456789abcdef',
  pollSeconds: 5,
  trustSeconds: 10,
  maxStalenessSeconds: 60,
  failureMode: 'fail-open',
  fetchTimeoutMs: 60_000,
  hub: { pollMs: 500, idleSeconds: 60, timeoutMs: 1000 },
}

const feed = (version: string, sids: string[] = []): RevocationFeed => ({
  version,
  generated_at: 0,
  window_seconds: 930,
  sessions: sids.map((sid) => ({ sid, revoked_at: 1 })),
  users: [],
})

/** A feed endpoint under the test's control: each poll waits until the test answers it. */
function controlledFeed() {
  const pending: ((response: Response) => void)[] = []
  let polls = 0
  const fetchFeed = (() => {
    polls++
    return new Promise<Response>((resolve) => pending.push(resolve))
  }) as typeof fetch
  return {
    fetchFeed,
    get polls() {
      return polls
    },
    answer(body: RevocationFeed) {
      pending.shift()!(new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', etag: `"${body.version}"` } }))
    },
  }
}

/** Reports whether a request's feed state settled without the test answering any poll. */
async function settlesOnItsOwn(state: unknown): Promise<boolean> {
  const promise = Promise.resolve(state)
  const marker = Symbol('pending')
  // Several macrotask turns: enough for any chain of already-resolved promises to settle.
  const pendingAfterTurns = new Promise((resolve) => setTimeout(() => resolve(marker), 20))
  return (await Promise.race([promise, pendingAfterTurns])) !== marker
}

const T0 = 1_800_000_000_000
const token = (sid: string) => ({ sub: 'user-1', sid, iat: T0 / 1000 })

/** A list whose cold load (version v1) has completed at T0, with its background polls collected. */
async function warmList() {
  const feedServer = controlledFeed()
  const list = new RevocationList(settings, { fetchFeed: feedServer.fetchFeed })
  const background: Promise<unknown>[] = []
  const waitUntil = (promise: Promise<unknown>) => void background.push(promise)
  const first = list.stateForRequest(T0, waitUntil)
  feedServer.answer(feed('v1'))
  await first
  // The cold load was handed to waitUntil too (a failing request must not cancel it); count from here.
  background.length = 0
  return { feedServer, list, background, waitUntil }
}

describe('RevocationList (the edge polling schedule)', () => {
  it('polls at most once per interval under steady traffic', async () => {
    const { feedServer, list, background, waitUntil } = await warmList()
    // A request every 100 ms for 4.9 s: all inside one poll interval.
    for (let t = T0 + 100; t < T0 + 5000; t += 100) await list.stateForRequest(t, waitUntil)
    expect(feedServer.polls).toBe(1)
    // The interval has passed: exactly one more poll, then none until the next interval.
    for (let t = T0 + 5000; t < T0 + 9900; t += 100) await list.stateForRequest(t, waitUntil)
    expect(feedServer.polls).toBe(2)
    expect(background).toHaveLength(1)
  })

  it('answers from the current copy while a background poll is still in flight, and applies it when it lands', async () => {
    const { feedServer, list, background, waitUntil } = await warmList()
    // The cold load is the only poll a request waits for; this one starts in the background.
    expect(await settlesOnItsOwn(list.stateForRequest(T0 + 5000, waitUntil))).toBe(true)
    expect(feedServer.polls).toBe(2)
    expect(background).toHaveLength(1)
    // Requests keep being answered from the old copy while central has not answered yet.
    expect(await settlesOnItsOwn(list.stateForRequest(T0 + 5500, waitUntil))).toBe(true)
    expect(list.isRevoked(token('sid-a'))).toBe(false)
    feedServer.answer(feed('v2', ['sid-a']))
    await Promise.all(background)
    expect(list.isRevoked(token('sid-a'))).toBe(true)
  })
})
