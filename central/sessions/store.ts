import type { Sql } from 'postgres'
import { recordAuditEvent, recordAuditEvents } from '../audit/store'
import { toInet } from '../db/inet'
import type { Queryable } from '../db/pool'
import { lockUserForUpdate, publishUserNotBefore } from '../users/store'
import type { FullGrant } from './narrow-grant'
import { sessionState, type RefreshTokenRecord, type SessionRecord, type SessionView } from './session-record'

/** Runs `fn` in a transaction, or inside the caller's when `sql` already is one. */
async function inTransaction<T>(sql: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  if ('begin' in sql && typeof (sql as Sql).begin === 'function') {
    return (await (sql as Sql).begin((tx) => fn(tx))) as T
  }
  return fn(sql)
}

// --- Refresh ------------------------------------------------------------------------------

/**
 * Locks the session a refresh token belongs to (`for update`), with the user's enabled flag
 * and current grant. Every refresh, reuse check and revoke of one session serialises on this
 * row lock, so a revoke that commits first is seen by every refresh that follows (READ
 * COMMITTED: the lock wait ends with the newest row version), and no refresh can slip past it.
 * The users row is read, not locked (users row first is the lock order, see lockUserRow). After
 * a lock wait it may be the older version, which is still sound: a change that removes grants
 * narrows this session row under its lock (narrowUserSessions), and a change committed after
 * this read is caught at the edge by the user's not-before marker.
 */
export async function lockSessionByTokenHash(tx: Queryable, tokenHash: Buffer): Promise<SessionRecord | undefined> {
  const [row]: [(SessionRow & { enabled: boolean; user_audiences: string[]; user_scopes: string[]; user_roles: string[] })?] = await tx`
    select s.*, u.enabled, u.audiences as user_audiences, u.scopes as user_scopes, u.roles as user_roles
    from sessions s join users u on u.id = s.user_id
    where s.id = (select session_id from refresh_tokens where token_hash = ${tokenHash})
    for update of s`
  return (
    row && {
      ...toSessionRecordBase(row),
      userEnabled: row.enabled,
      userGrant: { audiences: row.user_audiences, scopes: row.user_scopes, roles: row.user_roles },
    }
  )
}

/**
 * Reads the presented token after its session is locked. A separate statement on purpose:
 * under READ COMMITTED it takes a fresh snapshot, so it sees a rotation committed by the
 * transaction that held the lock before us.
 */
export async function findRefreshTokenByHash(tx: Queryable, tokenHash: Buffer): Promise<RefreshTokenRecord | undefined> {
  const [row]: [{ id: string; session_id: string; rotated_at: Date | null; successor_sealed: Buffer | null; rotated_ip: string | null; rotated_user_agent: string | null }?] = await tx`
    select id, session_id, rotated_at, successor_sealed, host(rotated_ip) as rotated_ip, rotated_user_agent
    from refresh_tokens where token_hash = ${tokenHash}`
  return (
    row && {
      id: String(row.id),
      sessionId: row.session_id,
      rotatedAt: row.rotated_at,
      successorSealed: row.successor_sealed,
      rotatedIp: row.rotated_ip,
      rotatedUserAgent: row.rotated_user_agent,
    }
  )
}

export interface Rotation {
  tokenId: string
  session: { id: string; userId: string }
  successorHash: Buffer
  successorSealed: Buffer
  now: Date
  /** Slid idle expiry (never past the absolute one), decided by the caller. */
  idleExpiresAt: Date
  ip: string | null
  userAgent: string | null
}

/**
 * Applies a rotation inside the refresh transaction: spends the presented token and records its
 * successor in one statement, slides the session's idle expiry, and writes the audit event. The
 * WHERE clause is the check (`rotated_at is null`), so even without the session lock only one
 * caller could win (RFC 6749 §10.4). Returns false when the token was already spent.
 */
export async function applyRotation(tx: Queryable, rotation: Rotation): Promise<boolean> {
  const rows = await tx`
    with successor as (
      insert into refresh_tokens (session_id, token_hash, created_at)
      values (${rotation.session.id}, ${rotation.successorHash}, ${rotation.now})
      returning id
    )
    update refresh_tokens
    set rotated_at = ${rotation.now}, successor_id = (select id from successor), successor_sealed = ${rotation.successorSealed},
        rotated_ip = ${toInet(rotation.ip)}, rotated_user_agent = ${rotation.userAgent}
    where id = ${rotation.tokenId} and rotated_at is null
    returning id`
  if (rows.length !== 1) return false
  await tx`update sessions set last_used_at = ${rotation.now}, idle_expires_at = ${rotation.idleExpiresAt}
           where id = ${rotation.session.id}`
  await recordAuditEvent(tx, {
    type: 'session.refreshed',
    at: rotation.now,
    actor: 'user',
    userId: rotation.session.userId,
    sessionId: rotation.session.id,
    details: { ip: rotation.ip, userAgent: rotation.userAgent },
  })
  return true
}

// --- Creation -----------------------------------------------------------------------------

export interface NewSession {
  userId: string
  clientId: string
  audiences: string[]
  scopes: string[]
  roles: string[]
  userAgent: string | null
  ip: string | null
  now: Date
  idleExpiresAt: Date
  absoluteExpiresAt: Date
  tokenHash: Buffer
}

/** Inserts the session and its first refresh token; returns the session id (the `sid`). */
export async function insertSession(tx: Queryable, session: NewSession): Promise<string> {
  const [row] = await tx<{ id: string }[]>`
    insert into sessions (user_id, client_id, audiences, scopes, roles, user_agent, ip, created_at, last_used_at,
                          idle_expires_at, absolute_expires_at)
    values (${session.userId}, ${session.clientId}, ${session.audiences}, ${session.scopes}, ${session.roles},
            ${session.userAgent}, ${toInet(session.ip)}, ${session.now}, ${session.now}, ${session.idleExpiresAt},
            ${session.absoluteExpiresAt})
    returning id`
  const sessionId = row!.id
  await tx`insert into refresh_tokens (session_id, token_hash, created_at) values (${sessionId}, ${session.tokenHash}, ${session.now})`
  return sessionId
}

// --- Revocation ---------------------------------------------------------------------------

/**
 * Revokes the session unless it already is (with `ownerId`, only a session of that user);
 * the WHERE clause is the check, so of two concurrent revokes one wins. Returns the owner of
 * the session it revoked, undefined when it revoked none.
 */
async function markSessionRevoked(
  tx: Queryable,
  input: { sessionId: string; ownerId?: string; now: Date; reason: string; actor: string },
): Promise<string | undefined> {
  const [row]: [{ user_id: string }?] = await tx`
    update sessions set revoked_at = ${input.now}, revoked_reason = ${input.reason}, revoked_by = ${input.actor}
    where id = ${input.sessionId} and revoked_at is null ${input.ownerId === undefined ? tx`` : tx`and user_id = ${input.ownerId}`}
    returning user_id`
  return row?.user_id
}

/** What `revokeSession` found: it revoked the session, the session had already been revoked, or there is none (of that user). */
export type RevokeSessionResult = 'revoked' | 'already_revoked' | 'not_found'

/**
 * Revokes one session (its whole refresh chain) and records who and why, in one transaction.
 * With `userId`, only a session of that user counts: another user's is `not_found`.
 * Pass a transaction to make it part of a larger change.
 * @see https://www.rfc-editor.org/rfc/rfc7009
 */
export async function revokeSession(
  sql: Queryable,
  input: { sessionId: string; userId?: string; actor: string; reason: string; now: Date },
): Promise<RevokeSessionResult> {
  return inTransaction(sql, async (tx) => {
    const { sessionId, userId, now, reason, actor } = input
    const ownerId = await markSessionRevoked(tx, { sessionId, ownerId: userId, now, reason, actor })
    if (ownerId === undefined) {
      // Not revoked by us: either revoked already, or no such session (of that user).
      const [found]: [{ exists: boolean }?] = await tx`
        select exists (select 1 from sessions where id = ${sessionId} ${userId === undefined ? tx`` : tx`and user_id = ${userId}`})`
      return found?.exists ? 'already_revoked' : 'not_found'
    }
    await recordAuditEvent(tx, { type: 'session.revoked', at: now, actor, userId: ownerId, sessionId, reason })
    return 'revoked'
  })
}

/**
 * Reuse detected: revokes the session and records both presenters, so ops can tell which
 * device holds a stolen token. Runs inside the refresh transaction (the session is locked).
 */
export async function revokeSessionForReuse(
  tx: Queryable,
  input: { session: SessionRecord; token: RefreshTokenRecord; now: Date; ip: string | null; userAgent: string | null },
): Promise<void> {
  const reason = 'refresh token reused after rotation'
  await markSessionRevoked(tx, { sessionId: input.session.id, now: input.now, reason, actor: 'system' })
  await recordAuditEvent(tx, {
    type: 'session.reuse_detected',
    at: input.now,
    actor: 'system',
    userId: input.session.userId,
    sessionId: input.session.id,
    reason,
    details: {
      rotation: { at: input.token.rotatedAt, ip: input.token.rotatedIp, userAgent: input.token.rotatedUserAgent },
      reuse: { at: input.now, ip: toInet(input.ip), userAgent: input.userAgent },
    },
  })
}

/**
 * "Log out everywhere": revokes every live session of the user and sets `users.not_before`
 * (whole seconds, as JWT `iat` is) so the edge can drop their access tokens too.
 * Returns how many sessions were revoked. Pass a transaction to make it part of a larger change.
 */
export async function revokeAllUserSessions(
  sql: Queryable,
  input: { userId: string; actor: string; reason: string; now: Date },
): Promise<number> {
  return inTransaction(sql, async (tx) => {
    await lockUserForUpdate(tx, input.userId)
    const rows = await tx<{ id: string }[]>`
      update sessions set revoked_at = ${input.now}, revoked_reason = ${input.reason}, revoked_by = ${input.actor}
      where user_id = ${input.userId} and revoked_at is null
      returning id`
    // Floored: every session alive now is also listed by sid, so a token minted later in this
    // second (a fresh login after "log out everywhere") can stay valid.
    const notBefore = new Date(Math.floor(input.now.getTime() / 1000) * 1000)
    await publishUserNotBefore(tx, { userId: input.userId, notBefore, now: input.now })
    await recordAuditEvents(tx, [
      ...rows.map((row) => ({ type: 'session.revoked' as const, at: input.now, actor: input.actor, userId: input.userId, sessionId: row.id, reason: input.reason })),
      { type: 'user.sessions_revoked', at: input.now, actor: input.actor, userId: input.userId, reason: input.reason, details: { sessions: rows.length, notBefore } },
    ])
    return rows.length
  })
}

/**
 * Takes from every live session of the user whatever lies outside `grant` (order kept), so the
 * session rows say what they can still grant and a grant given back to the user later does not
 * return to them. Call with the users row locked (lock order). Returns how many sessions changed.
 */
export async function narrowUserSessions(tx: Queryable, input: { userId: string; grant: FullGrant; now: Date }): Promise<number> {
  const { audiences, scopes, roles } = input.grant
  const rows = await tx`
    update sessions set
      audiences = array(select g from unnest(audiences) with ordinality as held(g, i) where g = any(${audiences}::text[]) order by i),
      scopes = array(select g from unnest(scopes) with ordinality as held(g, i) where g = any(${scopes}::text[]) order by i),
      roles = array(select g from unnest(roles) with ordinality as held(g, i) where g = any(${roles}::text[]) order by i)
    where user_id = ${input.userId} and revoked_at is null
      and idle_expires_at > ${input.now} and absolute_expires_at > ${input.now}
      and not (audiences <@ ${audiences}::text[] and scopes <@ ${scopes}::text[] and roles <@ ${roles}::text[])
    returning id`
  return rows.length
}

/** Sessions that can still refresh: not revoked, within both idle and absolute lifetimes. */
export async function countActiveSessions(sql: Queryable, now: Date): Promise<number> {
  const [row]: [{ count: number }] = await sql`
    select count(*)::int as count from sessions
    where revoked_at is null and idle_expires_at > ${now} and absolute_expires_at > ${now}`
  return row.count
}

/** Deletes sessions revoked or expired before `olderThan` (their tokens cascade). */
export async function purgeEndedSessions(sql: Queryable, input: { olderThan: Date }): Promise<number> {
  const rows = await sql`
    delete from sessions
    where revoked_at < ${input.olderThan}
       or idle_expires_at < ${input.olderThan}
       or absolute_expires_at < ${input.olderThan}
    returning id`
  return rows.length
}

// --- Reads --------------------------------------------------------------------------------

export async function findSession(sql: Queryable, sessionId: string, now: Date): Promise<SessionView | undefined> {
  const [row]: [SessionRow?] = await sql`select s.* from sessions s where id = ${sessionId}`
  return row && toSessionView(row, now)
}

/** A user's sessions, newest first, with their state at `now`. */
export async function listUserSessions(sql: Queryable, userId: string, now: Date): Promise<SessionView[]> {
  const rows = await sql<SessionRow[]>`select s.* from sessions s where user_id = ${userId} order by created_at desc, id`
  return rows.map((r) => toSessionView(r, now))
}

// --- Row mapping --------------------------------------------------------------------------

interface SessionRow {
  id: string
  user_id: string
  client_id: string
  audiences: string[]
  scopes: string[]
  roles: string[]
  user_agent: string | null
  ip: string | null
  created_at: Date
  last_used_at: Date
  idle_expires_at: Date
  absolute_expires_at: Date
  revoked_at: Date | null
  revoked_reason: string | null
  revoked_by: string | null
}

function toSessionRecordBase(row: SessionRow): Omit<SessionRecord, 'userEnabled' | 'userGrant'> {
  return {
    id: row.id,
    userId: row.user_id,
    clientId: row.client_id,
    audiences: row.audiences,
    scopes: row.scopes,
    roles: row.roles,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    idleExpiresAt: row.idle_expires_at,
    absoluteExpiresAt: row.absolute_expires_at,
    revokedAt: row.revoked_at,
  }
}

function toSessionView(row: SessionRow, now: Date): SessionView {
  const view = {
    id: row.id,
    userId: row.user_id,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    userAgent: row.user_agent,
    // inet comes back as text such as '10.0.0.1' (no mask for host addresses).
    ip: row.ip ? String(row.ip).replace(/\/(32|128)$/, '') : null,
    clientId: row.client_id,
    audiences: row.audiences,
    scopes: row.scopes,
    idleExpiresAt: row.idle_expires_at,
    absoluteExpiresAt: row.absolute_expires_at,
    revokedAt: row.revoked_at,
    revokedReason: row.revoked_reason,
    revokedBy: row.revoked_by,
  }
  return { ...view, state: sessionState({ revokedAt: row.revoked_at, idleExpiresAt: row.idle_expires_at, absoluteExpiresAt: row.absolute_expires_at }, now) }
}

/** The session a refresh token belongs to, without locking (logout by cookie, RFC 7009 revoke). */
export async function findSessionIdByTokenHash(sql: Queryable, tokenHash: Buffer): Promise<string | undefined> {
  const [row]: [{ session_id: string }?] = await sql`select session_id from refresh_tokens where token_hash = ${tokenHash}`
  return row?.session_id
}
