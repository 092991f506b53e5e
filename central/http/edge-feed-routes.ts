import { createRoute, z } from '@hono/zod-openapi'
import { REVOCATION_FEED_PATH, RevocationFeedSchema } from '../../shared/revocation-feed'
import { buildRevocationFeed, revocationFeedVersion } from '../revocations/build-feed'
import { feedWindowSeconds } from '../revocations/feed-window'
import { findRevocationsSince, findRevocationsVersionInputs, inFeedSnapshot } from '../revocations/store'
import type { AppDeps } from '../app-deps'
import { createRouter } from './create-router'
import { requireBearerSecret } from './require-bearer-secret'

const revocationFeedRoute = createRoute({
  method: 'get',
  path: REVOCATION_FEED_PATH,
  summary: 'Revocation feed for edges (Bearer EDGE_FEED_TOKEN)',
  description:
    'Sessions revoked, users logged out everywhere, and machine clients disabled, deleted, rotated or narrowed (`clients`), ' +
    'within the last access-token lifetime plus clock tolerance. ' +
    'Send the last `version` as `If-None-Match` to get 304 when nothing changed.',
  security: [{ bearerAuth: [] }],
  request: { headers: z.object({ 'if-none-match': z.string().optional() }) },
  responses: {
    200: {
      description: 'The feed',
      content: {
        'application/json': {
          schema: RevocationFeedSchema,
        },
      },
    },
    304: { description: 'Unchanged since the version in If-None-Match' },
  },
})

/** `GET /edge/revocations`: what the edge must reject before those tokens expire, polled by every edge isolate. */
export function edgeFeedRoutes({ sql, config, clock }: AppDeps) {
  const router = createRouter()
  router.use(REVOCATION_FEED_PATH, requireBearerSecret(config.EDGE_FEED_TOKEN, 'revocation feed'))
  router.openapi(revocationFeedRoute, async (c) => {
    const now = clock()
    const windowSeconds = feedWindowSeconds(config.ACCESS_TOKEN_TTL_SECONDS, config.CLOCK_TOLERANCE_SECONDS)
    const since = new Date(now.getTime() - windowSeconds * 1000)
    c.header('Cache-Control', 'no-store')
    // The common poll finds nothing new: one aggregate, no rows read or hashed, no transaction.
    const current = revocationFeedVersion(await findRevocationsVersionInputs(sql, since))
    if (c.req.header('If-None-Match') === `"${current}"`) {
      c.header('ETag', `"${current}"`)
      return c.body(null, 304)
    }
    // Changed: version and entries from one snapshot, so they describe the same revocations.
    const feed = await inFeedSnapshot(sql, async (tx) => {
      const version = revocationFeedVersion(await findRevocationsVersionInputs(tx, since))
      return buildRevocationFeed(await findRevocationsSince(tx, since), version, now, windowSeconds)
    })
    c.header('ETag', `"${feed.version}"`)
    return c.json(feed, 200)
  })
  return router
}
