import { createRoute, z } from '@hono/zod-openapi'
import { isDatabaseReachable } from '../db/check-database'
import type { AppDeps } from '../app-deps'
import { createRouter } from './create-router'

/** How long /readyz waits for `select 1`: well under a load balancer's usual probe timeout. */
const READINESS_TIMEOUT_MS = 1000

const StatusSchema = z.object({ status: z.enum(['ok', 'unavailable']) }).openapi('HealthStatus')

const livenessRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process is up and serving HTTP',
  description: 'Never touches the database, so an orchestrator does not restart central while PostgreSQL is down.',
  responses: { 200: { description: 'Process up', content: { 'application/json': { schema: StatusSchema } } } },
})

const readinessRoute = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: the database answers',
  description: `200 when \`select 1\` succeeds within ${READINESS_TIMEOUT_MS} ms, else 503 (take this instance out of rotation).`,
  responses: {
    200: { description: 'Database reachable', content: { 'application/json': { schema: StatusSchema } } },
    503: { description: 'Database unreachable', content: { 'application/json': { schema: StatusSchema } } },
  },
})

/** `GET /healthz` (process up) and `GET /readyz` (database reachable). */
export function healthRoutes({ sql }: AppDeps) {
  const router = createRouter()
  router.openapi(livenessRoute, (c) => {
    c.header('Cache-Control', 'no-store')
    return c.json({ status: 'ok' as const }, 200)
  })
  router.openapi(readinessRoute, async (c) => {
    c.header('Cache-Control', 'no-store')
    return (await isDatabaseReachable(sql, READINESS_TIMEOUT_MS))
      ? c.json({ status: 'ok' as const }, 200)
      : c.json({ status: 'unavailable' as const }, 503)
  })
  return router
}
