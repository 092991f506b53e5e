import type { MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { InvalidGrant } from '../../shared/errors'
import type { AuditEventInput } from '../audit/store'
import { isDatabaseUnavailable } from '../db/database-errors'
import type { AppMetrics, RefreshOutcome } from './app-metrics'
import { collectAuditEvents } from './audit-observer'

/**
 * One middleware derives every request-driven metric:
 * - latency per route pattern (`/admin/sessions/:id`, never the raw path, to bound cardinality);
 * - logins from the status of `POST /auth/login`, which the HTTP contract fixes (200 ok,
 *   401 failed, 429 throttled);
 * - refresh outcomes and revocations from the audit events the request wrote, which are the
 *   authoritative record of what happened (grace replay vs. rotation, reuse, revoke reason);
 * - database errors from the error the request failed with.
 * Audit events of a request answered 5xx are ignored: their transaction rolled back.
 */
export function observeHttpRequests(metrics: AppMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now()
    const events: AuditEventInput[] = []
    await collectAuditEvents(events, next)
    const status = c.res.status
    const route = status === 404 && routePath(c).includes('*') ? 'unmatched' : routePath(c)
    metrics.httpRequestDuration
      .labels(c.req.method, route, String(status))
      .observe((performance.now() - started) / 1000)

    if (c.error) {
      if (isDatabaseUnavailable(c.error)) metrics.databaseErrors.labels('unavailable').inc()
      else if (c.error.name === 'PostgresError') metrics.databaseErrors.labels('query').inc()
    }
    if (status >= 500) return

    if (c.req.method === 'POST' && c.req.path === '/auth/login') {
      if (status === 200) metrics.logins.labels('ok').inc()
      else if (status === 401) metrics.logins.labels('failed').inc()
      else if (status === 429) metrics.logins.labels('throttled').inc()
    }
    if (c.req.method === 'POST' && c.req.path === '/oauth/token') {
      const outcome = classifyRefresh(status, c.error, events)
      if (outcome) metrics.refreshes.labels(outcome).inc()
    }
    for (const event of events) {
      if (event.type === 'session.revoked') metrics.revocations.labels(reasonLabel(event.reason)).inc()
    }
  }
}

function classifyRefresh(status: number, error: Error | undefined, events: AuditEventInput[]): RefreshOutcome | undefined {
  if (events.some((e) => e.type === 'session.reuse_detected')) return 'reuse_detected'
  if (status === 200) {
    const refreshed = events.find((e) => e.type === 'session.refreshed')
    return refreshed?.details?.['graceReplay'] === true || refreshed?.reason === 'grace_replay' ? 'grace_replay' : 'rotated'
  }
  if (error instanceof InvalidGrant) return 'invalid'
  return undefined
}

/** Reasons are short snake_case words in the audit trail; anything else is folded to keep cardinality bounded. */
function reasonLabel(reason: string | null | undefined): string {
  return reason && /^[a-z][a-z0-9_]{0,39}$/.test(reason) ? reason : 'other'
}
