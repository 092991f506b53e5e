import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RevocationFeed } from '../../shared/revocation-feed'

/** The EDGE_FEED_TOKEN the fake feed accepts. */
export const FEED_TOKEN = 'edge-feed-token-0123456789abcdef'

/**
 * A stand-in for central's `GET /edge/revocations`: ETag = version, 304 on If-None-Match, Bearer
 * checked. `mode` makes it fail: 503, a body that is not a feed, or no answer at all.
 */
export interface FakeFeed {
  url: string
  feed: RevocationFeed
  mode: 'ok' | 'down' | 'garbage' | 'hang'
  /** Every request's headers, in order. */
  requests: IncomingHttpHeaders[]
  /** Every answer's status, in order (a hung request has none). */
  statuses: number[]
  close(): Promise<void>
}

export async function startFakeFeed(feed: Partial<RevocationFeed> = {}): Promise<FakeFeed> {
  const fake: FakeFeed = {
    url: '',
    feed: { version: 'v0', generated_at: 0, window_seconds: 930, sessions: [], users: [], ...feed },
    mode: 'ok',
    requests: [],
    statuses: [],
    close: async () => {},
  }
  const server = createServer((request, response) => {
    fake.requests.push(request.headers)
    if (fake.mode === 'hang') return
    const answer = (status: number, body?: string, headers: Record<string, string> = {}) => {
      fake.statuses.push(status)
      response.writeHead(status, headers)
      response.end(body)
    }
    if (fake.mode === 'down') return answer(503, '{"error":"temporarily_unavailable"}')
    if (fake.mode === 'garbage') return answer(200, '<html>not a feed</html>', { 'content-type': 'application/json' })
    if (request.headers.authorization !== `Bearer ${FEED_TOKEN}`) return answer(401, '{"error":"invalid_token"}')
    const etag = `"${fake.feed.version}"`
    if (request.headers['if-none-match'] === etag) return answer(304, undefined, { etag })
    answer(200, JSON.stringify(fake.feed), { 'content-type': 'application/json', etag })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/edge/revocations`
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return fake
}

let versionCounter = 0
/** Central publishes a new feed: these entries (none of a kind not given) under a new version. */
export function publishFeed(fake: FakeFeed, entries: Partial<Pick<RevocationFeed, 'sessions' | 'users' | 'keys_version'>>): void {
  fake.feed = { ...fake.feed, sessions: [], users: [], ...entries, version: `v${++versionCounter}` }
}
