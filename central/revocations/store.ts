import type { Sql } from 'postgres'

export interface RevokedSession {
  sessionId: string
  revokedAt: Date
}

export interface UserNotBefore {
  userId: string
  notBefore: Date
}

export interface RecentRevocations {
  sessions: RevokedSession[]
  users: UserNotBefore[]
}

/**
 * Everything revoked after `since`: sessions ended one by one, and users whose sessions were all
 * ended (their not-before marker). Both come from indexed columns the session store already
 * writes, so no path that ends a session can forget to feed the edge.
 */
export async function findRevocationsSince(sql: Sql, since: Date): Promise<RecentRevocations> {
  const [sessions, users] = await Promise.all([
    sql<{ id: string; revoked_at: Date }[]>`
      select id, revoked_at from sessions where revoked_at > ${since} order by revoked_at, id`,
    sql<{ id: string; not_before: Date }[]>`
      select id, not_before from users where not_before > ${since} order by not_before, id`,
  ])
  return {
    sessions: sessions.map((row) => ({ sessionId: row.id, revokedAt: row.revoked_at })),
    users: users.map((row) => ({ userId: row.id, notBefore: row.not_before })),
  }
}
