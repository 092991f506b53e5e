import type { Sql } from 'postgres'

/** Sessions that can still refresh: not revoked, within both idle and absolute lifetimes. */
export async function countActiveSessions(sql: Sql, now: Date): Promise<number> {
  const [row]: [{ count: number }?] = await sql`
    select count(*)::int as count from sessions
    where revoked_at is null and idle_expires_at > ${now} and absolute_expires_at > ${now}`
  return row?.count ?? 0
}
