import type { Sql } from 'postgres'

/**
 * True when the database answers `select 1` within `timeoutMs`. A readiness probe must answer
 * quickly even when the database host black-holes packets, so it does not wait out the pool's
 * connect timeout; the query itself is cancelled so it does not pile up.
 */
export async function isDatabaseReachable(sql: Sql, timeoutMs: number): Promise<boolean> {
  const query = sql`select 1 as ok`
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  try {
    const answered = query.then(([row]) => row?.ok === 1).catch(() => false)
    const reachable = await Promise.race([answered, timedOut])
    if (!reachable) query.cancel()
    return reachable
  } finally {
    clearTimeout(timer)
  }
}
