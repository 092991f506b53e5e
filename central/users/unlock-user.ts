import type { Sql } from 'postgres'
import { usernameAndIpKeyPrefix, usernameKey } from './login-throttle'
import { clearLoginFailures, findUserByUsername, readLoginFailures, type LoginFailures } from './store'

/**
 * An admin clears the failed-login counts that keep a user from signing in: the per-username
 * ceiling and the per-address counts of this username, whoever caused them. Audited as
 * `user.unlocked` with the admin as actor. Undefined when no user has this username.
 */
export async function unlockUser(sql: Sql, input: { username: string; actor: string; now: Date }): Promise<{ cleared: number } | undefined> {
  const user = await findUserByUsername(sql, input.username)
  if (!user) return undefined
  const cleared = await clearLoginFailures(sql, {
    userId: user.id,
    usernameKey: usernameKey(user.username),
    usernameAndIpKeyPrefix: usernameAndIpKeyPrefix(user.username),
    actor: input.actor,
    now: input.now,
  })
  return { cleared }
}

/** The failed logins counted against a username in the current window (what an unlock would clear). */
export function loginFailuresOf(sql: Sql, username: string, input: { windowSeconds: number; now: Date }): Promise<LoginFailures> {
  return readLoginFailures(sql, { usernameKey: usernameKey(username), usernameAndIpKeyPrefix: usernameAndIpKeyPrefix(username), ...input })
}
