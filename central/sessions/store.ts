import { randomUUID } from 'node:crypto'
import type { Sql } from 'postgres'
import type { AuditEventInput } from '../audit/audit-event'
import { reportWrittenAuditEvents } from '../audit/collect-audit-events'
import { recordAuditEvent, recordAuditEvents } from '../audit/store'
import { toInet } from '../db/inet'
import type { Queryable } from '../db/pool'
import { lockUserForUpdate, publishUserNotBefore } from '../users/store'
import type { FullGrant } from './narrow-grant'
import type { PresentedRefreshToken } from './refresh-token'
import { sessionState, type SessionRecord, type SessionView } from './session-record'

/** Runs `fn` in a transaction, or inside the caller's when `sql` already is one. */
async function inTransaction<T>(sql: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  if ('begin' in sql && typeof (sql as Sql).begin === 'function') {
    return (await (sql as Sql).begin((tx) => fn(tx))) as T
  }
  return fn(sql)
}

// --- Refresh ------------------------------------------------------------------------------
//
// One row per session holds the whole refresh chain (migration 0009): the SHA-256 of the current
// token, its generation, the SHA-256 of the previous token with the salt the current one was
// derived with (a retry within the grace window derives it again, see successorRefreshToken) and
// who presented it. A refresh never inserts a row, so storage is O(sessions) whatever the number
// of refreshes. `successor_sealed` is cleared by every rotation: only rows the earlier release
// rotated last still hold one.
//
// Rotation is one statement (`refreshSessionRow`): an UPDATE of the session row whose WHERE clause
// is the whole check — presented hash is the current one, session live, user enabled, same client,
// DPoP key, requested resource and scopes within the session's and the user's grant — joined with
// the users row (the grant bound is read in the same statement), with the `session.refreshed`
// audit insert in a CTE of the same statement, so the event commits with the rotation or not at all.
// Concurrent presenters of one token queue on the row lock; PostgreSQL re-checks the WHERE clause
// on the newest row version, so exactly one wins and the chain never forks (RFC 6749 §10.4). A
// revoke that commits first makes the WHERE clause false for every refresh behind it.
//
// When the UPDATE matches nothing, the same statement returns the row as it was at the statement's
// start, and decideRefresh classifies the token on it: the previous token (by its hash) replays
// or is reuse; an older token is reuse only when proven genuine: a token of this format carries
// an HMAC tag over (session id, generation, random) under a key only central holds, so a tag that
// verifies with a generation below the current one proves central issued it to this chain at an
// earlier position, without storing every old hash. A `sid` alone (public: it is in every access
// token) gives no valid tag, and a guessed token matches no hash: neither can revoke a session.
// If the snapshot says "current token" although the UPDATE matched nothing, a concurrent refresh
// or revoke won the row first: the caller runs the statement again on a fresh snapshot.

/** The session row with its chain state and user, as a refresh statement returns it. */
type RefreshRow = SessionRow & {
  rotated: boolean
  token_hash: Buffer | null
  generation: number
  previous_token_hash: Buffer | null
  successor_salt: Buffer | null
  successor_sealed: Buffer | null
  rotated_ip: string | null
  rotated_user_agent: string | null
  dpop_jkt: string | null
  enabled: boolean
  user_audiences: string[]
  user_scopes: string[]
  /** The user's roles and the session's asserted ones (see `NewSession.assertedRoles`). */
  user_roles: string[]
}

function toRefreshRecord(row: RefreshRow): SessionRecord {
  return {
    ...toSessionRecordBase(row),
    userEnabled: row.enabled,
    userGrant: { audiences: row.user_audiences, scopes: row.user_scopes, roles: row.user_roles },
    chain: {
      tokenHash: row.token_hash,
      generation: row.generation,
      previousTokenHash: row.previous_token_hash,
      successorSalt: row.successor_salt,
      successorSealed: row.successor_sealed,
      rotatedIp: row.rotated_ip,
      rotatedUserAgent: row.rotated_user_agent,
    },
    dpopJkt: row.dpop_jkt,
  }
}

/**
 * What the refresh statement checks about the client besides `sessions.client_id`:
 * - `established`: nothing more, the caller authenticated it (or vouches for the default client);
 * - `may-refresh-unauthenticated`: the client was named without credentials, so the statement
 *   reads its registration and rotates only if `authenticateClient` and `requireClientGrant`
 *   would let it refresh that way: unregistered (never registered, or deleted, which never frees an
 *   id) with `implicitAllowed`, or registered, enabled, public (`none`), allowed `refresh_token`,
 *   and sending a DPoP proof if it must. A test holds the two to the same answers for every case.
 */
export type RefreshClientCheck = { kind: 'established' } | { kind: 'may-refresh-unauthenticated'; implicitAllowed: boolean }

export interface RefreshAttempt {
  sessionId: string
  /** SHA-256 of the presented token, and the generation it claims (0 for the earlier format). */
  tokenHash: Buffer
  generation: number
  clientId: string
  clientCheck: RefreshClientCheck
  dpopJkt: string | null
  /** RFC 8707 `resource` and RFC 6749 §6 `scope` of the request: rotate only when within the grant. */
  resource: string | null
  scopes: string[] | null
  successorHash: Buffer
  successorSalt: Buffer
  now: Date
  /** now + idle lifetime; the statement caps it at the absolute expiry. */
  idleUntil: Date
  ip: string | null
  userAgent: string | null
  /** Write the `session.refreshed` event (AUDIT_REFRESH_EVENTS). */
  recordEvent: boolean
}

export type RefreshStatementResult =
  /** The presented token was current and is spent; `session` is the row after the rotation. */
  | { kind: 'rotated'; session: SessionRecord }
  /** Nothing changed; `session` is the row as this statement saw it (undefined: no such session). */
  | { kind: 'unchanged'; session: SessionRecord | undefined }

/** The `session.refreshed` event a rotation writes (also handed to the metrics). */
export function refreshedEvent(input: { now: Date; userId: string; sessionId: string; ip: string | null; userAgent: string | null }): AuditEventInput {
  return { type: 'session.refreshed', at: input.now, actor: 'user', userId: input.userId, sessionId: input.sessionId, details: { ip: input.ip, userAgent: input.userAgent } }
}

/**
 * The refresh statement (see the block above): rotates the chain when the presented token is
 * current and everything else allows it, else returns the row unchanged for classification.
 * One round trip, no transaction.
 */
export async function refreshSessionRow(sql: Queryable, attempt: RefreshAttempt): Promise<RefreshStatementResult> {
  const ip = toInet(attempt.ip)
  const details = { ip, userAgent: attempt.userAgent }
  const check = attempt.clientCheck
  const rows = await sql<RefreshRow[]>`
    with rotated as (
      update sessions s set
        previous_token_hash = s.token_hash,
        token_hash = ${attempt.successorHash},
        generation = s.generation + 1,
        successor_salt = ${attempt.successorSalt},
        successor_sealed = null,
        last_used_at = ${attempt.now},
        idle_expires_at = least(${attempt.idleUntil}::timestamptz, s.absolute_expires_at),
        rotated_ip = ${ip}::inet,
        rotated_user_agent = ${attempt.userAgent}
      from users u left join oauth_clients c on c.client_id = ${attempt.clientId}
      where s.id = ${attempt.sessionId} and s.token_hash = ${attempt.tokenHash} and s.generation = ${attempt.generation}
        and u.id = s.user_id and u.enabled
        and s.revoked_at is null and s.idle_expires_at > ${attempt.now} and s.absolute_expires_at > ${attempt.now}
        and s.client_id = ${attempt.clientId}
        and (${check.kind === 'established'}::boolean
          or (c.client_id is null and ${check.kind === 'may-refresh-unauthenticated' && check.implicitAllowed}::boolean)
          or (c.deleted_at is null and c.enabled and c.token_endpoint_auth_method = 'none' and 'refresh_token' = any(c.grant_types)
              and (not c.require_dpop or ${attempt.dpopJkt}::text is not null)))
        and (s.dpop_jkt is null or s.dpop_jkt = ${attempt.dpopJkt}::text)
        and (${attempt.resource}::text is null or (${attempt.resource}::text = any(s.audiences) and ${attempt.resource}::text = any(u.audiences)))
        and (${attempt.scopes}::text[] is null or (${attempt.scopes}::text[] <@ s.scopes and ${attempt.scopes}::text[] <@ u.scopes))
      returning s.id, s.user_id, s.client_id, s.audiences, s.scopes, s.roles, s.created_at, s.last_used_at,
                s.idle_expires_at, s.absolute_expires_at, s.revoked_at, s.token_hash, s.generation, s.previous_token_hash,
                s.successor_salt, s.successor_sealed, host(s.rotated_ip) as rotated_ip, s.rotated_user_agent, s.dpop_jkt,
                u.enabled, u.audiences as user_audiences, u.scopes as user_scopes, u.roles || s.asserted_roles as user_roles
    ),
    refreshed as (
      insert into audit_events (at, event_type, actor, user_id, session_id, details)
      select ${attempt.now}, 'session.refreshed', 'user', r.user_id, r.id, ${sql.json(details)}
      from rotated r where ${attempt.recordEvent}::boolean
    )
    select true as rotated, r.* from rotated r
    union all
    select false, s.id, s.user_id, s.client_id, s.audiences, s.scopes, s.roles, s.created_at, s.last_used_at,
           s.idle_expires_at, s.absolute_expires_at, s.revoked_at, s.token_hash, s.generation, s.previous_token_hash,
           s.successor_salt, s.successor_sealed, host(s.rotated_ip), s.rotated_user_agent, s.dpop_jkt,
           u.enabled, u.audiences, u.scopes, u.roles || s.asserted_roles
    from sessions s join users u on u.id = s.user_id
    where s.id = ${attempt.sessionId} and not exists (select 1 from rotated)`
  const [row] = rows
  if (!row) return { kind: 'unchanged', session: undefined }
  const session = toRefreshRecord(row)
  return row.rotated ? { kind: 'rotated', session } : { kind: 'unchanged', session }
}

/** The session of a refresh token in the earlier format (which does not name it), by the token's hash. */
export async function findLegacyTokenSession(sql: Queryable, tokenHash: Buffer): Promise<string | undefined> {
  const [row]: [{ session_id: string }?] = await sql`select session_id from legacy_refresh_tokens where token_hash = ${tokenHash}`
  return row?.session_id
}

/**
 * Reuse detected: revokes the session and records both presenters (the one who rotated the
 * previous token, from the row, and the one presenting an earlier token now), so ops can tell
 * which device holds a stolen token. One statement; the WHERE clause keeps a concurrent revoke
 * from being recorded twice. Returns false when the session was already revoked.
 */
export async function revokeSessionForReuse(
  sql: Queryable,
  input: { session: SessionRecord; now: Date; ip: string | null; userAgent: string | null },
): Promise<boolean> {
  const reason = 'refresh token reused after rotation'
  const { session, now } = input
  const event: AuditEventInput = {
    type: 'session.reuse_detected',
    at: now,
    actor: 'system',
    userId: session.userId,
    sessionId: session.id,
    reason,
    details: {
      rotation: { at: session.lastUsedAt, ip: session.chain.rotatedIp, userAgent: session.chain.rotatedUserAgent },
      reuse: { at: now, ip: toInet(input.ip), userAgent: input.userAgent },
    },
  }
  const rows = await sql`
    with revoked as (
      update sessions set revoked_at = ${now}, revoked_reason = ${reason}, revoked_by = 'system'
      where id = ${session.id} and revoked_at is null
      returning id, user_id
    )
    insert into audit_events (at, event_type, actor, user_id, session_id, reason, details)
    select ${now}, ${event.type}, ${event.actor}, user_id, id, ${reason}, ${sql.json(event.details as never)} from revoked
    returning id`
  if (rows.length === 0) return false
  reportWrittenAuditEvents([event])
  return true
}

// --- Creation -----------------------------------------------------------------------------

export interface NewSession {
  /** Chosen by the caller when the first refresh token names it; else a new UUID. */
  id?: string
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
  /** SHA-256 of the first refresh token (generation 0). */
  tokenHash: Buffer
  /** RFC 7638 thumbprint of the DPoP key the chain is bound to (RFC 9449 §5). */
  dpopJkt?: string | null
  /**
   * Roles an identity provider asserted at this sign-in: the session holds them as if its user
   * did, and only this session (they are never written to the user). Empty for other sign-ins.
   */
  assertedRoles?: string[]
}

/** Inserts the session with its first refresh token's hash; returns the session id (the `sid`). */
export async function insertSession(tx: Queryable, session: NewSession): Promise<string> {
  const id = session.id ?? randomUUID()
  await tx`
    insert into sessions (id, user_id, client_id, audiences, scopes, roles, user_agent, ip, created_at, last_used_at,
                          idle_expires_at, absolute_expires_at, token_hash, generation, dpop_jkt, asserted_roles)
    values (${id}, ${session.userId}, ${session.clientId}, ${session.audiences}, ${session.scopes}, ${session.roles},
            ${session.userAgent}, ${toInet(session.ip)}, ${session.now}, ${session.now}, ${session.idleExpiresAt},
            ${session.absoluteExpiresAt}, ${session.tokenHash}, 0, ${session.dpopJkt ?? null}, ${session.assertedRoles ?? []})`
  return id
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
 * Revokes every live session started through the client (`sessions.client_id`), with a
 * `session.revoked` event each: a deleted or disabled client's sessions must not refresh on.
 * Call inside the transaction that changes the client (its row locked first, then these rows).
 * Returns how many sessions were revoked.
 */
export async function revokeClientSessions(tx: Queryable, input: { clientId: string; actor: string; reason: string; now: Date }): Promise<number> {
  const rows = await tx<{ id: string; user_id: string }[]>`
    update sessions set revoked_at = ${input.now}, revoked_reason = ${input.reason}, revoked_by = ${input.actor}
    where client_id = ${input.clientId} and revoked_at is null
    returning id, user_id`
  await recordAuditEvents(tx, rows.map((row) => ({ type: 'session.revoked' as const, at: input.now, actor: input.actor, userId: row.user_id, sessionId: row.id, reason: input.reason })))
  return rows.length
}

/**
 * Takes from every live session of the user whatever lies outside `grant` (order kept), so the
 * session rows say what they can still grant and a grant given back to the user later does not
 * return to them; a session's asserted roles stay (the user never held them). Call with the users
 * row locked (lock order). Returns how many sessions changed.
 */
export async function narrowUserSessions(tx: Queryable, input: { userId: string; grant: FullGrant; now: Date }): Promise<number> {
  const { audiences, scopes, roles } = input.grant
  const rows = await tx`
    update sessions set
      audiences = array(select g from unnest(audiences) with ordinality as held(g, i) where g = any(${audiences}::text[]) order by i),
      scopes = array(select g from unnest(scopes) with ordinality as held(g, i) where g = any(${scopes}::text[]) order by i),
      roles = array(select g from unnest(roles) with ordinality as held(g, i) where g = any(${roles}::text[] || asserted_roles) order by i)
    where user_id = ${input.userId} and revoked_at is null
      and idle_expires_at > ${input.now} and absolute_expires_at > ${input.now}
      and not (audiences <@ ${audiences}::text[] and scopes <@ ${scopes}::text[] and roles <@ (${roles}::text[] || asserted_roles))
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

/** Deletes sessions revoked or expired before `olderThan` (with any legacy token rows). */
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

function toSessionRecordBase(row: SessionRow): Omit<SessionRecord, 'userEnabled' | 'userGrant' | 'chain' | 'dpopJkt'> {
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

/** Who may end a session by one of its refresh tokens (RFC 7009): its client, and its DPoP key if bound. */
export interface RefreshTokenHolder {
  sessionId: string
  clientId: string
  dpopJkt: string | null
}

/**
 * The session a refresh token belongs to, without locking (logout by cookie, RFC 7009 revoke,
 * sign-out), with its client and DPoP key: the current or previous token of the session it names
 * (by primary key), or a token of the earlier format on record. One statement.
 */
export async function findRefreshTokenHolder(sql: Queryable, presented: PresentedRefreshToken): Promise<RefreshTokenHolder | undefined> {
  const { tokenHash } = presented
  const [row]: [{ id: string; client_id: string; dpop_jkt: string | null }?] =
    presented.kind === 'chained'
      ? await sql`
          select id, client_id, dpop_jkt from sessions
          where id = ${presented.sessionId} and (token_hash = ${tokenHash} or previous_token_hash = ${tokenHash})`
      : await sql`
          select s.id, s.client_id, s.dpop_jkt from legacy_refresh_tokens t join sessions s on s.id = t.session_id
          where t.token_hash = ${tokenHash}`
  return row && { sessionId: row.id, clientId: row.client_id, dpopJkt: row.dpop_jkt }
}
