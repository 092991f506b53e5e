import type { Sql } from 'postgres'
import { recordAuditEvent } from '../audit/store'
import { toInet } from '../db/inet'
import { countActiveSessions, lockSessionHolder } from '../sessions/store'
import type { Queryable } from '../db/pool'
import { ADMIN_ROLE } from '../../shared/access-token-claims'

/** The administrator behind a console cookie, checked afresh on every request. */
export interface ConsoleAdmin {
  userId: string
  username: string
  expiresAt: Date
}

export interface NewConsoleSession {
  tokenHash: Buffer
  userId: string
  now: Date
  expiresAt: Date
  ip: string | null
  userAgent: string | null
}

/** Stores a console sign-in (only the hash of its cookie value). Sign-ins go through startConsoleSession. */
export async function insertConsoleSession(sql: Queryable, session: NewConsoleSession): Promise<void> {
  await sql`
    insert into console_sessions (token_hash, user_id, created_at, expires_at, ip, user_agent)
    values (${session.tokenHash}, ${session.userId}, ${session.now}, ${session.expiresAt},
            ${toInet(session.ip)}, ${session.userAgent})`
}

/**
 * A console sign-in whose password has been verified: locks the user row `for share` (the lock
 * lockSessionHolder takes for API logins, so it waits behind changeUser's `for update`) and
 * stores the console session with its `console.sign_in` audit event only if, in the committed
 * row, the user is still enabled, still holds `portcullis:admin`, and still has the password
 * hash that was verified. A new password or a disable committed while argon2 ran would
 * otherwise find no console session to delete and then see one inserted after it; after a
 * disable, re-enabling the user would bring that cookie back. False: refused, nothing stored.
 */
export async function startConsoleSession(
  sql: Sql,
  input: NewConsoleSession & { verifiedPasswordHash: string; actor: string },
): Promise<boolean> {
  return sql.begin(async (tx) => {
    const holder = await lockSessionHolder(tx, input.userId, { verifiedPasswordHash: input.verifiedPasswordHash })
    if (!holder || !holder.roles.includes(ADMIN_ROLE)) return false
    await insertConsoleSession(tx, input)
    await recordAuditEvent(tx, { type: 'console.sign_in', at: input.now, actor: input.actor, userId: input.userId, details: { ip: input.ip } })
    return true
  })
}

/**
 * The admin a console cookie belongs to, or undefined. The join re-checks the user on every
 * request, so disabling an admin or taking away `portcullis:admin` ends their console access
 * at once, without waiting for the cookie to expire.
 */
export async function findConsoleAdmin(sql: Queryable, tokenHash: Buffer, now: Date): Promise<ConsoleAdmin | undefined> {
  const [row]: [{ user_id: string; username: string; expires_at: Date }?] = await sql`
    select cs.user_id, u.username, cs.expires_at
    from console_sessions cs join users u on u.id = cs.user_id
    where cs.token_hash = ${tokenHash} and cs.expires_at > ${now}
      and u.enabled and ${ADMIN_ROLE} = any(u.roles)`
  return row && { userId: row.user_id, username: row.username, expiresAt: row.expires_at }
}

export async function deleteConsoleSession(sql: Queryable, tokenHash: Buffer): Promise<void> {
  await sql`delete from console_sessions where token_hash = ${tokenHash}`
}

/**
 * Ends every console sign-in of the user, in the caller's transaction (`changeUser`, when the
 * user is disabled or gets a new password). A new password is what an admin sets after a
 * compromise, and findConsoleAdmin checks only `enabled` and the admin role, so without this a
 * console cookie signed in with the old password would stay valid until it expires.
 */
export async function deleteUserConsoleSessions(sql: Queryable, userId: string): Promise<void> {
  await sql`delete from console_sessions where user_id = ${userId}`
}

export async function purgeExpiredConsoleSessions(sql: Queryable, now: Date): Promise<void> {
  await sql`delete from console_sessions where expires_at <= ${now}`
}

/**
 * The overview's headline numbers: sessions alive now, and events of the last 24 hours.
 * A login is a session created by the user themself (`actor = 'user'`); sessions minted
 * through `POST /admin/sessions` are not logins.
 */
export interface OverviewCounts {
  activeSessions: number
  logins: number
  failedLogins: number
  refreshes: number
  reuseDetections: number
  revocations: number
}

export async function countOverview(sql: Queryable, now: Date): Promise<OverviewCounts> {
  const since = new Date(now.getTime() - 24 * 3600 * 1000)
  // An aggregate without GROUP BY always returns its one row.
  const [events]: [Omit<OverviewCounts, 'activeSessions'>] = await sql`
    select
      count(*) filter (where event_type = 'session.created' and actor = 'user')::int as "logins",
      count(*) filter (where event_type = 'user.login_failed')::int as "failedLogins",
      count(*) filter (where event_type = 'session.refreshed')::int as "refreshes",
      count(*) filter (where event_type = 'session.reuse_detected')::int as "reuseDetections",
      count(*) filter (where event_type = 'session.revoked')::int as "revocations"
    from audit_events
    where at > ${since} and at <= ${now}`
  return { activeSessions: await countActiveSessions(sql, now), ...events }
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
