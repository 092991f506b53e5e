import type { Sql } from 'postgres'
import { revokeAllUserSessions } from '../sessions/store'
import { findUserById, updateUser, type UserPatch } from './store'
import type { UserRecord } from './user-record'

/**
 * Changes a user, the one way the admin API and the console do it: when the change disables the
 * user, every session of theirs is revoked in the same transaction, so a disabled user never keeps
 * a session that could still refresh. Undefined when no user has this username.
 */
export async function changeUser(
  sql: Sql,
  input: { username: string; patch: UserPatch; actor: string; now: Date },
): Promise<{ user: UserRecord; sessionsRevoked: number } | undefined> {
  return sql.begin(async (tx) => {
    const updated = await updateUser(tx, input.username, input.patch, input.actor, input.now)
    if (!updated) return undefined
    if (!updated.disabled) return { user: updated.user, sessionsRevoked: 0 }
    const sessionsRevoked = await revokeAllUserSessions(tx, { userId: updated.user.id, actor: input.actor, reason: 'user disabled', now: input.now })
    // Read again for the not-before marker the revocation set.
    return { user: (await findUserById(tx, updated.user.id)) ?? updated.user, sessionsRevoked }
  })
}
