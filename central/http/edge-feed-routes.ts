import { createRoute, z } from '@hono/zod-openapi'
import { REVOCATION_FEED_PATH } from '../../shared/revocation-feed'
import { buildRevocationFeed, feedWindowSeconds } from '../revocations/build-feed'
import { findRevocationsSince } from '../revocations/store'
import type { AppDeps } from './app-deps'
import { createRouter } from './create-router'
import { requireBearerSecret } from './require-bearer-secret'

const FeedEntrySchemas = {
  session: z.object({ sid: z.string(), revoked_at: z.number().int() }),
  user: z.object({ sub: z.string(), not_before: z.number().int() }),
}

const revocationFeedRoute = createRoute({
  method: 'get',
  path: REVOCATION_FEED_PATH,
  summary: 'Revocation feed for edges (Bearer EDGE_FEED_TOKEN)',
  description:
    'Sessions revoked, and users logged out everywhere, within the last access-token lifetime plus clock tolerance. ' +
    'Send the last `version` as `If-None-Match` to get 304 when nothing changed.',
  security: [{ bearerAuth: [] }],
  request: { headers: z.object({ 'if-none-match': z.string().optional() }) },
  responses: {
    200: {
      description: 'The feed',
      content: {
        'application/json': {
          schema: z.object({
            version: z.string(),
            generated_at: z.number().int(),
            window_seconds: z.number().int(),
            sessions: z.array(FeedEntrySchemas.session),
            users: z.array(FeedEntrySchemas.user),
          }),
        },
      },
    },
    304: { description: 'Unchanged since the version in If-None-Match' },
  },
})

/** `GET /edge/revocations`: what the edge must reject before those tokens expire (DESIGN.md). */
export function edgeFeedRoutes({ sql, config, clock }: AppDeps) {
  const router = createRouter()
  router.use(REVOCATION_FEED_PATH, requireBearerSecret(config.EDGE_FEED_TOKEN, 'revocation feed'))
  router.openapi(revocationFeedRoute, async (c) => {
    const now = clock()
    const windowSeconds = feedWindowSeconds(config.ACCESS_TOKEN_TTL_SECONDS, config.CLOCK_TOLERANCE_SECONDS)
    const revocations = await findRevocationsSince(sql, new Date(now.getTime() - windowSeconds * 1000))
    const feed = buildRevocationFeed(revocations, now, windowSeconds)
    const etag = `"${feed.version}"`
    c.header('ETag', etag)
    c.header('Cache-Control', 'no-store')
    if (c.req.header('If-None-Match') === etag) return c.body(null, 304)
    return c.json(feed, 200)
  })
  return router
}
