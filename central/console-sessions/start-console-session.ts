import type { Sql } from 'postgres'
import { ADMIN_ROLE } from '../../shared/access-token-claims'
import { recordAuditEvent } from '../audit/store'
import { lockUserForSignIn } from '../users/store'
import { insertConsoleSession, type NewConsoleSession } from './store'

/**
 * A console sign-in whose password has been verified: locks the user row `for share` (the lock
 * startSession takes for API logins, so it waits behind changeUser's `for update`) and
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
    const holder = await lockUserForSignIn(tx, input.userId, { verifiedPasswordHash: input.verifiedPasswordHash })
    if (!holder || !holder.roles.includes(ADMIN_ROLE)) return false
    await insertConsoleSession(tx, input)
    await recordAuditEvent(tx, { type: 'console.sign_in', at: input.now, actor: input.actor, userId: input.userId, details: { ip: input.ip } })
    return true
  })
}
