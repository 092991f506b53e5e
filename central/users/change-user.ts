import type { Sql } from 'postgres'
import { ADMIN_ROLE } from '../../shared/access-token-claims'
import { Conflict } from '../../shared/errors'
import type { Clock } from '../clock'
import { deleteUserConsoleSessions } from '../console-sessions/store'
import { exceedingGrant } from '../sessions/narrow-grant'
import { narrowUserSessions, revokeAllUserSessions } from '../sessions/store'
import { countEnabledUsersWithRole, findUserById, lockAdminSet, publishUserNotBefore, updateUser, type UserPatch } from './store'
import { mayTakeConsoleAccess, type GrantDiff } from './grant-change'
import type { UserRecord } from './user-record'

export interface UserChange {
  user: UserRecord
  /** Sessions revoked because the change disabled the user or set a new password. */
  sessionsRevoked: number
  /** Live sessions that lost a role, scope or audience the change took from the user. */
  sessionsNarrowed: number
  /** Grant values the change added and removed (what it did, not what was asked). */
  grantDiff: GrantDiff
}

/**
 * The change would leave no enabled user with a password holding `portcullis:admin`: nobody
 * could sign in to the console any more (the admin API's token still works, which is how to recover on purpose).
 */
export class LastAdminConflict extends Conflict {
  constructor() {
    super(`this change would leave no enabled user with the ${ADMIN_ROLE} role (nobody could sign in to the console); give the role to another user first`)
  }
}

/**
 * Changes a user, the one way the admin API and the console do it, and makes the change reach
 * the user's existing sessions and access tokens in the same transaction:
 * - disabled, or a new password (what an admin sets after a compromise): every session is
 *   revoked, with the user's not-before marker, and every console sign-in ends, so nothing
 *   issued before survives;
 * - a role, scope or audience removed: live sessions lose it (refreshes mint within the user's
 *   current grant anyway, see boundByUserGrant), and the not-before marker moves past this
 *   second, so the edges drop the wider access tokens already out within REVOCATION_TRUST_SECONDS and
 *   clients refresh into narrower ones. Sessions stay alive. A grant added widens nothing.
 * A change that takes the admin role (or, by disabling, the account) from the last enabled admin
 * is refused with `LastAdminConflict` and changes nothing.
 * Undefined when no user has this username.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html#renew-the-session-id-after-any-privilege-level-change
 */
export async function changeUser(
  sql: Sql,
  input: {
    username: string
    patch: UserPatch
    actor: string
    /**
     * The app's clock (deps.clock): read once before the transaction for the audit timestamps,
     * and again for the not-before marker.
     */
    clock: Clock
  },
): Promise<UserChange | undefined> {
  // When the change was asked for: the audit timestamps.
  const now = input.clock()
  return sql.begin(async (tx) => {
    // Before any row: concurrent changes that may each take console access from a different
    // admin count the admins one after the other, so they cannot together leave none.
    const guardsAdmins = mayTakeConsoleAccess(input.patch)
    if (guardsAdmins) await lockAdminSet(tx)
    // Locks the users row first (then sessions), the lock order every user-wide change keeps.
    const updated = await updateUser(tx, input.username, input.patch, input.actor, now)
    if (!updated) return undefined
    const { user, previousGrant, grantDiff } = updated
    const change = { userId: user.id, actor: input.actor, now }

    // Console admins: only a password opens the console.
    const wasAdmin = updated.wasEnabled && previousGrant.roles.includes(ADMIN_ROLE) && user.passwordHash !== null
    const isAdmin = user.enabled && user.roles.includes(ADMIN_ROLE) && user.passwordHash !== null
    // Throwing rolls the whole change back.
    if (guardsAdmins && wasAdmin && !isAdmin && (await countEnabledUsersWithRole(tx, ADMIN_ROLE)) === 0) throw new LastAdminConflict()

    let sessionsRevoked = 0
    const passwordChanged = input.patch.passwordHash !== undefined
    const revokesAll = updated.disabled || passwordChanged
    if (revokesAll) {
      const reason = updated.disabled ? 'user disabled' : 'password changed'
      sessionsRevoked = await revokeAllUserSessions(tx, { ...change, reason })
      // Console sign-ins too: whoever signed in with the old password keeps no way in.
      await deleteUserConsoleSessions(tx, user.id)
    }

    let sessionsNarrowed = 0
    // The user lacks something they held before: a change that must reach existing tokens.
    const narrowed = exceedingGrant(previousGrant, user) !== undefined
    if (narrowed) {
      sessionsNarrowed = await narrowUserSessions(tx, { userId: user.id, grant: user, now })
      // The marker comes from the clock read now, after narrowUserSessions returns, not from
      // `now` (read before this transaction began, maybe long before: the users row lock above
      // can wait). A refresh that read the old grant after `now` held its session row lock, so
      // the narrowing waited for it to commit; its token's `iat` is therefore at or before this
      // reading, while with `now` it could land in the next second, equal to the marker, and
      // the edge would keep the removed grant alive.
      // Anything later waits for our commit (a refresh of a narrowed session on its row lock,
      // a login on the users row) or holds nothing outside the new grant.
      // The next whole second, not this one: JWT `iat` is whole seconds and the edge rejects
      // `iat < not_before`, so a wider token minted earlier in this second must fall below it.
      // A token minted later in this second is dropped too; its client refreshes once more.
      const narrowedAt = Math.max(now.getTime(), input.clock().getTime())
      const notBefore = new Date((Math.floor(narrowedAt / 1000) + 1) * 1000)
      await publishUserNotBefore(tx, { userId: user.id, notBefore, now })
    }

    if (!revokesAll && !narrowed) return { user, sessionsRevoked, sessionsNarrowed, grantDiff }
    // Read again for the not-before marker set above.
    return { user: (await findUserById(tx, user.id)) ?? user, sessionsRevoked, sessionsNarrowed, grantDiff }
  })
}
