import { Hono } from 'hono'
import type { AppMetrics } from '../metrics/app-metrics'
import type { AppDeps } from '../app-deps'
import { requireBearerSecret } from './require-bearer-secret'

/**
 * `GET /metrics` in Prometheus text format, behind `Authorization: Bearer <METRICS_TOKEN>`
 * (its own token, so a scraper never holds admin power). Unset METRICS_TOKEN: the route does
 * not exist (404) rather than being open. Not in the OpenAPI document: it is for Prometheus.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 */
export function metricsRoutes(deps: AppDeps, metrics: AppMetrics) {
  const router = new Hono()
  router.get('/metrics', requireBearerSecret(deps.config.METRICS_TOKEN, 'metrics'), async (c) => {
    const body = await metrics.registry.metrics()
    return c.body(body, 200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' })
  })
  return router
}
