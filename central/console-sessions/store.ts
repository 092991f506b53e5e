import { ADMIN_ROLE } from '../../shared/access-token-claims'
import { toInet } from '../db/inet'
import type { Queryable } from '../db/pool'

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
