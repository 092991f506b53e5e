import type { Sql } from 'postgres'
import type { Queryable } from '../db/pool'
import { recordAuditEvent } from '../audit/store'
import { Conflict } from '../../shared/errors'
import type { FullGrant } from '../sessions/narrow-grant'
import type { UserRecord } from './user-record'
import type { AttemptCount, ThrottleLimits } from './login-throttle'
import { applyGrantChange, diffGrants, GRANT_PARTS, type GrantChange, type GrantDiff } from './grant-change'

interface UserRow {
  id: string
  username: string
  password_hash: string | null
  enabled: boolean
  audiences: string[]
  scopes: string[]
  roles: string[]
  not_before: Date | null
  created_at: Date
  updated_at: Date
}

const userColumns = ['id', 'username', 'password_hash', 'enabled', 'audiences', 'scopes', 'roles', 'not_before', 'created_at', 'updated_at']

function toUserRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    enabled: row.enabled,
    audiences: row.audiences,
    scopes: row.scopes,
    roles: row.roles,
    notBefore: row.not_before,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

export interface NewUser {
  username: string
  /** argon2id PHC string from `hashPassword`; null for externally authenticated subjects. */
  passwordHash: string | null
  audiences: string[]
  scopes: string[]
  roles: string[]
  actor: string
  now: Date
}

/**
 * Inserts a user and its `user.created` audit event in one transaction.
 * Throws `Conflict` when the username is taken (the unique index decides, so two concurrent
 * creations cannot both succeed).
 * @see ../../shared/errors.ts
 */
export async function createUser(sql: Sql, input: NewUser): Promise<UserRecord> {
  try {
    return await sql.begin(async (tx) => {
      const [row]: [UserRow?] = await tx`
        insert into users (username, password_hash, audiences, scopes, roles, created_at, updated_at)
        values (${input.username}, ${input.passwordHash}, ${input.audiences}, ${input.scopes}, ${input.roles},
                ${input.now}, ${input.now})
        returning ${tx(userColumns)}`
      if (!row) throw new Error('insert into users returned no row')
      await recordAuditEvent(tx, {
        type: 'user.created',
        at: input.now,
        actor: input.actor,
        userId: row.id,
        details: { username: row.username, audiences: row.audiences, scopes: row.scopes, roles: row.roles },
      })
      return toUserRecord(row)
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new Conflict(`username is already taken`, { cause: error })
    throw error
  }
}

/** The user with exactly this username, or undefined. */
export async function findUserByUsername(sql: Queryable, username: string): Promise<UserRecord | undefined> {
  const [row]: [UserRow?] = await sql`select ${sql(userColumns)} from users where username = ${username}`
  return row && toUserRecord(row)
}

/** The user with this id, or undefined. */
export async function findUserById(sql: Queryable, userId: string): Promise<UserRecord | undefined> {
  const [row]: [UserRow?] = await sql`select ${sql(userColumns)} from users where id = ${userId}`
  return row && toUserRecord(row)
}

/**
 * Users whose username starts with `prefix` (literally: `%` and `_` in the prefix match
 * themselves), ordered by username, at most `limit` (1–500).
 */
export async function searchUsersByPrefix(sql: Queryable, prefix: string, limit: number): Promise<UserRecord[]> {
  const bounded = Math.min(Math.max(Math.trunc(limit) || 1, 1), 500)
  const rows = await sql<UserRow[]>`
    select ${sql(userColumns)} from users
    where starts_with(username, ${prefix})
    order by username
    limit ${bounded}`
  return rows.map(toUserRecord)
}

export interface UserPatch {
  enabled?: boolean
  /** Explicit additions and removals, or a replacement of named lists (see grant-change.ts). */
  grantChange?: GrantChange
  /** A new argon2id hash (never the password itself). */
  passwordHash?: string
}

export interface UpdatedUser {
  user: UserRecord
  /** The grant before this update, read under the same lock. */
  previousGrant: FullGrant
  /** What the grant change actually added and removed (empty lists when nothing). */
  grantDiff: GrantDiff
  /** True when this update turned an enabled user into a disabled one. */
  disabled: boolean
  /** `enabled` before this update. */
  wasEnabled: boolean
}

/**
 * Applies a patch to one user and records what changed (`user.updated` with the grant values
 * `added` and `removed`, `user.disabled`, `user.enabled`), in the caller's transaction. Returns
 * undefined for an unknown username. The previous `enabled` and grant are read under `for
 * update`, and the new grant is computed from them, so two concurrent edits compose (one adds a
 * scope, the other removes a role: both land), two concurrent disables report `disabled: true`
 * only once, and a removed grant is seen by exactly the change that removed it.
 */
export async function updateUser(
  sql: Queryable,
  username: string,
  patch: UserPatch,
  actor: string,
  now: Date,
): Promise<UpdatedUser | undefined> {
  const [before]: [{ id: string; enabled: boolean; audiences: string[]; scopes: string[]; roles: string[] }?] = await sql`
    select id, enabled, audiences, scopes, roles from users where username = ${username} for update`
  if (!before) return undefined
  const previousGrant = { audiences: before.audiences, scopes: before.scopes, roles: before.roles }
  const grant = patch.grantChange ? applyGrantChange(previousGrant, patch.grantChange) : previousGrant
  const [row]: [UserRow?] = await sql`
    update users set
      enabled = coalesce(${patch.enabled ?? null}::boolean, enabled),
      audiences = ${grant.audiences}::text[],
      scopes = ${grant.scopes}::text[],
      roles = ${grant.roles}::text[],
      password_hash = coalesce(${patch.passwordHash ?? null}::text, password_hash),
      updated_at = ${now}
    where id = ${before.id}
    returning ${sql(userColumns)}`
  if (!row) return undefined
  const grantDiff = diffGrants(previousGrant, grant)
  const changed = [
    ...(patch.enabled !== undefined ? ['enabled'] : []),
    ...GRANT_PARTS.filter((part) => grantDiff.added[part].length || grantDiff.removed[part].length),
    ...(patch.passwordHash !== undefined ? ['password'] : []),
  ]
  // The audit trail says *that* the password changed, never anything about it.
  const details = { changed, ...nonEmpty('added', grantDiff.added), ...nonEmpty('removed', grantDiff.removed) }
  await recordAuditEvent(sql, { type: 'user.updated', at: now, actor, userId: row.id, details })
  const disabled = before.enabled && !row.enabled
  const enabled = !before.enabled && row.enabled
  if (disabled || enabled) {
    await recordAuditEvent(sql, { type: disabled ? 'user.disabled' : 'user.enabled', at: now, actor, userId: row.id })
  }
  return { user: toUserRecord(row), previousGrant, grantDiff, disabled, wasEnabled: before.enabled }
}

/** `{ [key]: the lists that hold something }`, or nothing when every list is empty. */
function nonEmpty(key: string, grant: FullGrant): Record<string, Partial<FullGrant>> {
  const lists = Object.fromEntries(GRANT_PARTS.filter((part) => grant[part].length).map((part) => [part, grant[part]]))
  return Object.keys(lists).length ? { [key]: lists } : {}
}

/**
 * Serialises the changes that may take console access away (a removed admin role, a disable):
 * a transaction-scoped advisory lock, taken before any users row so it cannot join a lock cycle.
 * The second of two concurrent changes then counts the admins the first one left.
 */
export async function lockAdminSet(tx: Queryable): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended('portcullis:admin-set', 0))`
}

/**
 * Enabled users holding `role` (the console's admin role) who can sign in to the console, as this
 * transaction sees them: only a password opens the console, so users without one do not count.
 */
export async function countEnabledUsersWithRole(sql: Queryable, role: string): Promise<number> {
  const [row]: [{ count: number }?] = await sql`
    select count(*)::int as count from users where enabled and password_hash is not null and ${role} = any(roles)`
  return row?.count ?? 0
}

// --- Locks and markers other changes take on a user ----------------------------------------

/**
 * Lock order for every transaction that touches a user and their sessions: the `users` row
 * first, then session rows. `changeUser` locks the user (`for update`) before revoking; if
 * revoke-all locked the sessions first and the user second, the two would wait on each other
 * and PostgreSQL would abort one with a deadlock (40P01).
 */
export async function lockUserForUpdate(tx: Queryable, userId: string): Promise<void> {
  await tx`select 1 from users where id = ${userId} for update`
}

/**
 * Reads the user a new session is for, `for share`, inside the session-creating transaction,
 * and returns what they hold if they may still sign in: undefined when the user no longer
 * exists, is disabled, or (with `verifiedPasswordHash`) no longer has the password hash the
 * sign-in verified. A login checks `enabled` and the password before and during argon2; a
 * disable or a new password that commits during those milliseconds would otherwise revoke every
 * session, then see the new one inserted after it. The share lock waits behind changeUser's
 * `for update` (users row first, as everywhere) and then reads the committed row, while logins
 * of the same user do not block one another. API and console sign-ins both take it
 * (startSession, startConsoleSession). The hash is compared here and never leaves the transaction.
 */
export async function lockUserForSignIn(
  tx: Queryable,
  userId: string,
  signIn: { verifiedPasswordHash?: string } = {},
): Promise<FullGrant | undefined> {
  const [row]: [(FullGrant & { enabled: boolean; passwordHash: string | null })?] = await tx`
    select enabled, audiences, scopes, roles, password_hash as "passwordHash" from users where id = ${userId} for share`
  if (!row?.enabled) return undefined
  if (signIn.verifiedPasswordHash !== undefined && row.passwordHash !== signIn.verifiedPasswordHash) return undefined
  return { audiences: row.audiences, scopes: row.scopes, roles: row.roles }
}

/**
 * Sets the user's not-before marker, which the revocation feed publishes: the edge rejects the
 * user's access tokens with `iat` before it. It never moves back (`greatest`), so a later
 * change in the same second cannot revive tokens an earlier one killed.
 */
export async function publishUserNotBefore(tx: Queryable, input: { userId: string; notBefore: Date; now: Date }): Promise<void> {
  await tx`update users set not_before = greatest(not_before, ${input.notBefore}), updated_at = ${input.now} where id = ${input.userId}`
}

/**
 * `POST /admin/sessions`: the subject is authenticated by another system, so it gets a user row
 * with no password (it can never log in with one), holding the grant of the call that created
 * it: a session is never wider than its user (see boundByUserGrant). An existing row is reused
 * as it is; the insert is `on conflict do nothing` so two concurrent calls create one row.
 */
export async function findOrCreateExternalUser(
  sql: Queryable,
  input: { username: string; grant: FullGrant; now: Date; createdByProvider?: string },
): Promise<UserRecord & { created: boolean }> {
  const { username, grant, now } = input
  const [inserted]: [UserRow?] = await sql`
    insert into users (username, password_hash, audiences, scopes, roles, created_by_provider, created_at, updated_at)
    values (${username}, null, ${grant.audiences}, ${grant.scopes}, ${grant.roles}, ${input.createdByProvider ?? null}, ${now}, ${now})
    on conflict (username) do nothing
    returning ${sql(userColumns)}`
  if (inserted) return { ...toUserRecord(inserted), created: true }
  const existing = await findUserByUsername(sql, username)
  if (!existing) throw new Error('user vanished between insert and select')
  return { ...existing, created: false }
}

/** What linking an identity to this user by email needs to know: how the account was made and what it holds. */
export interface UserForLinking {
  id: string
  enabled: boolean
  hasPassword: boolean
  /** The identity provider that created the user just in time, if one did. */
  createdByProvider: string | null
  grant: FullGrant
}

export async function findUserForLinking(sql: Queryable, username: string): Promise<UserForLinking | undefined> {
  const [row]: [(FullGrant & { id: string; enabled: boolean; hasPassword: boolean; createdByProvider: string | null })?] = await sql`
    select id, enabled, password_hash is not null as "hasPassword", created_by_provider as "createdByProvider", audiences, scopes, roles
    from users where username = ${username}`
  if (!row) return undefined
  const { audiences, scopes, roles, ...rest } = row
  return { ...rest, grant: { audiences, scopes, roles } }
}

// --- Login attempts ---------------------------------------------------------------------------

/**
 * Records a failed login: of a known user, or of an unknown username with no user (the typed text
 * is not kept). The per-IP throttle bounds how fast unknown usernames can add rows.
 */
export async function recordLoginFailure(
  sql: Queryable,
  input: { userId: string | null; ip: string; reason: 'wrong_password' | 'disabled' | 'no_password' | 'unknown_user'; now: Date },
): Promise<void> {
  await recordAuditEvent(sql, {
    type: 'user.login_failed',
    at: input.now,
    actor: 'user',
    userId: input.userId,
    reason: input.reason,
    details: { ip: input.ip },
  })
}

/**
 * Reserves one login attempt on each key in a single statement: the counter starts a new
 * window when the old one has ended, else it is incremented. `returning` hands back the
 * counts as the database settled them, so concurrent attempts on several central instances
 * each see a distinct count (see login-throttle.ts). `locked_until` is kept for operators.
 * Rows are taken in key order (LOGIN_ATTEMPTS_LOCK_ORDER).
 */
export async function reserveLoginAttempts(
  sql: Queryable,
  keys: string[],
  input: ThrottleLimits & { now: Date },
): Promise<AttemptCount[]> {
  const windowStartCutoff = new Date(input.now.getTime() - input.windowSeconds * 1000)
  const rows = await sql<{ key: string; failures: number; window_start: Date }[]>`
    insert into login_attempts ${sql(inLockOrder(keys).map((key) => ({ key, failures: 1, window_start: input.now, locked_until: null })))}
    on conflict (key) do update set
      failures = case when login_attempts.window_start <= ${windowStartCutoff} then 1 else login_attempts.failures + 1 end,
      window_start = case when login_attempts.window_start <= ${windowStartCutoff} then ${input.now}::timestamptz else login_attempts.window_start end,
      locked_until = case
        when login_attempts.window_start <= ${windowStartCutoff} then null
        when login_attempts.failures + 1 >= (case
            when login_attempts.key like 'ip:%' then ${input.maxFailuresPerIp}::int
            when login_attempts.key like 'user-ip:%' then ${input.maxFailuresPerUsernameAndIp}::int
            else ${input.maxFailuresPerUsername}::int end)
          then login_attempts.window_start + make_interval(secs => ${input.windowSeconds})
        else login_attempts.locked_until end
    returning key, failures, window_start`
  return rows.map((r) => ({ key: r.key, failures: r.failures, windowStart: r.window_start }))
}

/** A successful login: the username's counts start over. */
export async function resetLoginAttempts(sql: Queryable, keys: string[]): Promise<void> {
  // Locked in key order first: a DELETE alone takes rows in whatever order its scan finds them.
  await sql`
    delete from login_attempts where key in (
      select key from login_attempts where key = any(${keys}::text[]) order by key collate "C" for update)`
}

/**
 * LOGIN_ATTEMPTS_LOCK_ORDER: every statement that locks several login_attempts rows takes them in
 * ascending key order, byte by byte (keys are ASCII: JavaScript's sort and PostgreSQL's "C"
 * collation agree). Concurrent logins of one username reserve and reset the same counters; in
 * opposite orders the two statements would wait on each other, and PostgreSQL would abort one
 * (deadlock, 40P01) and the login would answer 503.
 */
function inLockOrder(keys: string[]): string[] {
  return [...keys].sort()
}

/** A successful login hands back its reservation on a shared key (an office behind one IP). */
export async function releaseLoginAttempt(sql: Queryable, key: string): Promise<void> {
  await sql`update login_attempts set failures = greatest(failures - 1, 0) where key = ${key}`
}

/**
 * An admin's unlock: deletes the username's failed-login counts (across every address; the
 * addresses' own counters stay, they are about whoever sent from there) and records
 * `user.unlocked`, in one transaction. Returns how many counters were cleared.
 */
export async function clearLoginFailures(
  sql: Sql,
  input: { userId: string; usernameKey: string; usernameAndIpKeyPrefix: string; actor: string; now: Date },
): Promise<number> {
  return sql.begin(async (tx) => {
    const cleared = await tx`
      delete from login_attempts where key = ${input.usernameKey} or starts_with(key, ${input.usernameAndIpKeyPrefix}) returning key`
    await recordAuditEvent(tx, { type: 'user.unlocked', at: input.now, actor: input.actor, userId: input.userId, details: { cleared: cleared.length } })
    return cleared.length
  })
}

export interface LoginFailures {
  /** Failures against the username from all addresses in the current window. */
  total: number
  /** How many addresses have a count against this username in the current window. */
  addresses: number
}

/** The username's counts whose window has not ended (see clearLoginFailures for the keys). */
export async function readLoginFailures(
  sql: Queryable,
  input: { usernameKey: string; usernameAndIpKeyPrefix: string; windowSeconds: number; now: Date },
): Promise<LoginFailures> {
  const windowStartCutoff = new Date(input.now.getTime() - input.windowSeconds * 1000)
  const [row]: [{ total: number; addresses: number }?] = await sql`
    select coalesce(sum(failures) filter (where key = ${input.usernameKey}), 0)::int as total,
           count(*) filter (where starts_with(key, ${input.usernameAndIpKeyPrefix}) and failures > 0)::int as addresses
    from login_attempts
    where (key = ${input.usernameKey} or starts_with(key, ${input.usernameAndIpKeyPrefix})) and window_start > ${windowStartCutoff}`
  return { total: row?.total ?? 0, addresses: row?.addresses ?? 0 }
}

/** Drops counters whose window ended before `olderThan` (they would restart at 1 anyway). */
export async function purgeLoginAttempts(sql: Queryable, olderThan: Date): Promise<number> {
  const result = await sql`delete from login_attempts where window_start < ${olderThan}`
  return result.count
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && (error as { code?: string }).code === '23505'
}
