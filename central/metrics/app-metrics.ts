import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Sql } from 'postgres'
import type { Clock } from '../clock'
import { countActiveSessions } from '../sessions/store'

/** Label values of the counters; each is pre-created at 0 (below). */
const LOGIN_OUTCOMES = ['ok', 'failed', 'throttled'] as const
const REFRESH_OUTCOMES = ['rotated', 'grace_replay', 'reuse_detected', 'expired', 'invalid'] as const
const DATABASE_ERROR_KINDS = ['unavailable', 'query'] as const
export type RefreshOutcome = (typeof REFRESH_OUTCOMES)[number]

/**
 * Every Prometheus metric central exposes, on a Registry of its own per app instance (never
 * prom-client's global default), so several apps in one process — tests, two instances on one
 * database — neither clash on registration nor mix their numbers.
 * @see https://prometheus.io/docs/practices/naming/
 */
export interface AppMetrics {
  registry: Registry
  logins: Counter<'outcome'>
  refreshes: Counter<'outcome'>
  revocations: Counter<'reason'>
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>
  databaseErrors: Counter<'kind'>
}

export interface AppMetricsDeps {
  sql: Sql
  clock: Clock
  poolMaxConnections: number
}

/** Builds the registry and its metrics; gauges that need the database are read at scrape time. */
export function createAppMetrics(deps: AppMetricsDeps): AppMetrics {
  const registry = new Registry()
  const logins = new Counter({
    name: 'portcullis_logins_total',
    help: 'Password logins by outcome (ok, failed, throttled).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const refreshes = new Counter({
    name: 'portcullis_refreshes_total',
    help: 'Refresh-token grants by outcome (rotated, grace_replay, reuse_detected, expired = session past its idle or absolute lifetime, invalid = revoked, unknown or otherwise refused).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const revocations = new Counter({
    name: 'portcullis_session_revocations_total',
    help: 'Sessions revoked, by reason as written to the audit trail.',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const httpRequestDuration = new Histogram({
    name: 'portcullis_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern, method and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  const databaseErrors = new Counter({
    name: 'portcullis_database_errors_total',
    help: 'Requests that failed on the database: unavailable (connection refused/lost, pool timeout) or query (a statement error).',
    labelNames: ['kind'] as const,
    registers: [registry],
  })
  // Pre-create the label sets ops alert on, so a rate() sees 0 rather than "no data".
  for (const outcome of LOGIN_OUTCOMES) logins.labels(outcome).inc(0)
  for (const outcome of REFRESH_OUTCOMES) refreshes.labels(outcome).inc(0)
  for (const kind of DATABASE_ERROR_KINDS) databaseErrors.labels(kind).inc(0)

  new Gauge({
    name: 'portcullis_db_pool_max_connections',
    help: 'Configured size of this instance’s PostgreSQL pool.',
    registers: [registry],
  }).set(deps.poolMaxConnections)

  // Active sessions are a fact of the shared database, not of this process: counted by SQL at
  // scrape time so every instance reports the same, correct number (use max(), not sum()).
  // prom-client collects all metrics concurrently, so both gauges await one shared probe.
  let activeSessions = 0
  let databaseReachable = 0
  let probe: Promise<void> | undefined
  const probeDatabase = () =>
    (probe ??= (async () => {
      try {
        activeSessions = await countActiveSessions(deps.sql, deps.clock())
        databaseReachable = 1
      } catch {
        databaseReachable = 0
        databaseErrors.labels('unavailable').inc()
      }
    })().finally(() => {
      probe = undefined
    }))
  new Gauge({
    name: 'portcullis_active_sessions',
    help: 'Sessions neither revoked nor expired (shared database; aggregate with max, not sum).',
    registers: [registry],
    async collect() {
      await probeDatabase()
      this.set(activeSessions)
    },
  })
  new Gauge({
    name: 'portcullis_db_up',
    help: '1 when the scrape-time database query succeeded, 0 when it failed.',
    registers: [registry],
    async collect() {
      await probeDatabase()
      this.set(databaseReachable)
    },
  })
  return { registry, logins, refreshes, revocations, httpRequestDuration, databaseErrors }
}
