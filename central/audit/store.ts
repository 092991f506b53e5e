import type { Queryable } from '../db/pool'
import type { AuditEvent, AuditEventInput, AuditEventType } from './audit-event'
import { reportWrittenAuditEvents } from './collect-audit-events'

/** Appends one event. Pass the transaction (`tx`) when the event belongs to a state change. */
export async function recordAuditEvent(sql: Queryable, event: AuditEventInput): Promise<void> {
  await recordAuditEvents(sql, [event])
}

/** Appends events in one statement, in order (one round trip however many sessions a revoke-all ends). */
export async function recordAuditEvents(sql: Queryable, events: readonly AuditEventInput[]): Promise<void> {
  if (events.length === 0) return
  const rows = events.map((event) => ({
    at: event.at,
    event_type: event.type,
    actor: event.actor,
    user_id: event.userId ?? null,
    session_id: event.sessionId ?? null,
    reason: event.reason ?? null,
    details: sql.json((event.details ?? {}) as never),
  }))
  await sql`insert into audit_events ${sql(rows, 'at', 'event_type', 'actor', 'user_id', 'session_id', 'reason', 'details')}`
  // Metrics are derived from the audit trail in one place (central/metrics/observe-http-request.ts).
  reportWrittenAuditEvents(events)
}

export interface AuditQuery {
  userId?: string
  sessionId?: string
  type?: string
  /** Keyset paging: only events with id below this one (newest first). */
  beforeId?: string
  limit?: number
}

/** Newest first, filtered, keyset-paged (stable while new events arrive). */
export async function listAuditEvents(sql: Queryable, query: AuditQuery = {}): Promise<AuditEvent[]> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 500)
  const rows = await sql<
    { id: string; at: Date; event_type: AuditEventType; actor: string; user_id: string | null; session_id: string | null; reason: string | null; details: Record<string, unknown>; username: string | null }[]
  >`
    select e.id, e.at, e.event_type, e.actor, e.user_id, e.session_id, e.reason, e.details, u.username
    from audit_events e left join users u on u.id = e.user_id
    where true
      ${query.userId ? sql`and e.user_id = ${query.userId}` : sql``}
      ${query.sessionId ? sql`and e.session_id = ${query.sessionId}` : sql``}
      ${query.type ? sql`and e.event_type = ${query.type}` : sql``}
      ${query.beforeId ? sql`and e.id < ${query.beforeId}` : sql``}
    order by e.id desc
    limit ${limit}`
  return rows.map((r) => ({
    id: String(r.id),
    at: r.at,
    type: r.event_type,
    actor: r.actor,
    userId: r.user_id,
    sessionId: r.session_id,
    reason: r.reason,
    details: r.details,
    username: r.username,
  }))
}

// --- Activity, as the console overview shows it ------------------------------------------------

/**
 * Events of the last 24 hours by kind. A login is a session created by the user themself
 * (`actor = 'user'`); sessions minted through `POST /admin/sessions` are not logins.
 */
export interface RecentActivity {
  logins: number
  failedLogins: number
  refreshes: number
  reuseDetections: number
  revocations: number
}

export async function countRecentActivity(sql: Queryable, now: Date): Promise<RecentActivity> {
  const since = new Date(now.getTime() - 24 * 3600 * 1000)
  // An aggregate without GROUP BY always returns its one row.
  const [events]: [RecentActivity] = await sql`
    select
      count(*) filter (where event_type = 'session.created' and actor = 'user')::int as "logins",
      count(*) filter (where event_type = 'user.login_failed')::int as "failedLogins",
      count(*) filter (where event_type = 'session.refreshed')::int as "refreshes",
      count(*) filter (where event_type = 'session.reuse_detected')::int as "reuseDetections",
      count(*) filter (where event_type = 'session.revoked')::int as "revocations"
    from audit_events
    where at > ${since} and at <= ${now}`
  return events
}

/** One hour of activity for the overview chart. */
export interface ActivityHour {
  hourStart: Date
  logins: number
  refreshes: number
  revocations: number
  reuseDetections: number
}

/** The last 24 whole hours up to and including the current one, oldest first, empty hours as zeros. */
export async function listHourlyActivity(sql: Queryable, now: Date): Promise<ActivityHour[]> {
  const rows = await sql<ActivityHour[]>`
    -- Hours in UTC whatever the server's TimeZone, matching the chart's UTC labels.
    with hours as (
      select generate_series(
        date_trunc('hour', ${now}::timestamptz, 'UTC') - interval '23 hours',
        date_trunc('hour', ${now}::timestamptz, 'UTC'),
        interval '1 hour') as hour_start
    )
    select h.hour_start as "hourStart",
      count(e.id) filter (where e.event_type = 'session.created' and e.actor = 'user')::int as "logins",
      count(e.id) filter (where e.event_type = 'session.refreshed')::int as "refreshes",
      count(e.id) filter (where e.event_type = 'session.revoked')::int as "revocations",
      count(e.id) filter (where e.event_type = 'session.reuse_detected')::int as "reuseDetections"
    from hours h
    left join audit_events e on e.at >= h.hour_start and e.at < h.hour_start + interval '1 hour' and e.at <= ${now}
    group by h.hour_start
    order by h.hour_start`
  return rows.map((r) => ({ ...r }))
}

// --- Retention ---------------------------------------------------------------------------------

/**
 * Events that only say the service did its job (a refresh, a console sign-in or sign-out): kept
 * for AUDIT_RETENTION_SECONDS. Everything else (sessions created, reuse detected, revocations,
 * failed logins, user, key and client changes, and any type added later) is a security event,
 * kept for AUDIT_SECURITY_RETENTION_SECONDS.
 */
export const ROUTINE_AUDIT_EVENT_TYPES: readonly AuditEventType[] = ['session.refreshed', 'console.sign_in', 'console.sign_out']

/** Rows one purge statement deletes at most: short transactions, no long lock on the table. */
export const AUDIT_PURGE_BATCH_SIZE = 5000

/**
 * Deletes routine events older than `routineBefore` and security events older than
 * `securityBefore`, in batches of `batchSize` rows (each its own statement, so a large backlog
 * never holds one long transaction, as Keycloak's event expiration does). Returns the rows deleted.
 */
export async function purgeAuditEvents(
  sql: Queryable,
  input: { routineBefore: Date; securityBefore: Date; batchSize?: number },
): Promise<number> {
  const batchSize = input.batchSize ?? AUDIT_PURGE_BATCH_SIZE
  const routine = [...ROUTINE_AUDIT_EVENT_TYPES]
  let deleted = 0
  for (const routineOnly of [true, false]) {
    const before = routineOnly ? input.routineBefore : input.securityBefore
    for (;;) {
      // ctid = any(array(…)): a TID scan of exactly the rows the bounded subquery picked.
      const result = await sql`
        delete from audit_events
        where ctid = any(array(
          select ctid from audit_events
          where at < ${before} and ${routineOnly ? sql`event_type = any(${routine})` : sql`event_type <> all(${routine})`}
          limit ${batchSize}))`
      deleted += result.count
      if (result.count < batchSize) break
    }
  }
  return deleted
}
