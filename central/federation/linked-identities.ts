import type { Sql } from 'postgres'
import type { Queryable } from '../db/pool'
import { recordIdentityChange } from './ports'
import { deleteIdentityLink, findSessionProviders, listIdentityLinks, type LinkedIdentity } from './store'

export type { LinkedIdentity }

/** The provider identities linked to a user, oldest first (admin API and console). */
export async function listLinkedIdentities(sql: Queryable, userId: string): Promise<LinkedIdentity[]> {
  return await listIdentityLinks(sql, userId)
}

/**
 * Removes one identity link of a user, audited as a change of that user. The user's sessions are
 * left as they are (revoking them is a separate, explicit admin action); the next sign-in through
 * that identity is treated as a first one. Returns false when the user has no such link.
 */
export async function unlinkIdentity(
  sql: Sql,
  input: { userId: string; issuer: string; subject: string; actor: string; now: Date },
): Promise<boolean> {
  return await sql.begin(async (tx) => {
    const links = await listIdentityLinks(tx, input.userId)
    const link = links.find((l) => l.issuer === input.issuer && l.subject === input.subject)
    if (!link || !(await deleteIdentityLink(tx, { issuer: input.issuer, subject: input.subject, userId: input.userId }))) return false
    await recordIdentityChange(tx, {
      userId: input.userId,
      actor: input.actor,
      now: input.now,
      change: 'identity_unlinked',
      providerId: link.providerId,
      issuer: link.issuer,
      subject: link.subject,
    })
    return true
  })
}

/** Which provider each of these sessions came from (absent: password or admin-started). */
export async function findProvidersOfSessions(sql: Queryable, sessionIds: readonly string[]): Promise<Map<string, string>> {
  return await findSessionProviders(sql, sessionIds)
}
