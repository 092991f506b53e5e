import postgres, { type Sql } from 'postgres'

/**
 * True once a backend of this database waits for a lock, in a statement containing `statement`
 * when given. Race tests poll it to know the other side has reached its lock wait, instead of
 * sleeping and hoping.
 */
export async function waitsForALock(sql: Sql, statement?: string): Promise<boolean> {
  const [row] = await sql<{ waiting: number }[]>`
    select count(*)::int as waiting from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'
      and (${statement ?? null}::text is null or position(${statement ?? ''} in query) > 0)`
  return row!.waiting > 0
}

/** Holds a row lock on its own connection until `release()`; `locked` settles once it is held. */
export function holdRowLock(databaseUrl: string, lockQuery: (tx: postgres.TransactionSql) => Promise<unknown>) {
  const connection = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let signalLocked!: () => void
  const locked = new Promise<void>((resolve) => (signalLocked = resolve))
  const done = connection
    .begin(async (tx) => {
      await lockQuery(tx)
      signalLocked()
      await released
    })
    .finally(() => connection.end())
  return { locked, release, done }
}
