import type { MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { InvalidGrant } from '../../shared/errors'
import type { AuditEventInput } from '../audit/audit-event'
import { SESSION_EXPIRED_REASON } from '../sessions/decide-refresh'
import { isDatabaseUnavailable } from '../db/database-errors'
import type { AppMetrics, RefreshOutcome } from './app-metrics'
import { collectAuditEvents } from '../audit/collect-audit-events'

/**
 * One middleware derives every request-driven metric:
 * - latency per route pattern (`/admin/sessions/:id`, never the raw path, to bound cardinality);
 * - logins from the status of `POST /auth/login`, which the HTTP contract fixes (200 ok,
 *   401 failed, 429 throttled);
 * - refresh outcomes and revocations from the audit events the request wrote (collected via
 *   audit/collect-audit-events.ts), the authoritative record of what happened (rotation, reuse, revoke reason);
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
      // Reuse revokes the session without a separate session.revoked event.
      if (event.type === 'session.reuse_detected') metrics.revocations.labels('reuse_detected').inc()
    }
  }
}

function classifyRefresh(status: number, error: Error | undefined, events: AuditEventInput[]): RefreshOutcome | undefined {
  if (events.some((e) => e.type === 'session.reuse_detected')) return 'reuse_detected'
  // A rotation writes `session.refreshed`; a retry within the grace window hands back the
  // stored successor and writes nothing (the chain did not move), so a 200 without it is a replay.
  if (status === 200) return events.some((e) => e.type === 'session.refreshed') ? 'rotated' : 'grace_replay'
  // Expiry is the normal end of an unused session, not an attack or a client bug: counted apart
  // so an alert on `invalid` is not drowned by users coming back after their idle lifetime.
  if (error instanceof InvalidGrant) return error.message === SESSION_EXPIRED_REASON ? 'expired' : 'invalid'
  return undefined
}

/**
 * Audit reasons are short phrases ('user disabled', 'revoked in console'); as labels they
 * become snake_case words, capped in length so label values stay a small, fixed set.
 */
function reasonLabel(reason: string | null | undefined): string {
  const label = (reason ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40)
  return label || 'unspecified'
}
