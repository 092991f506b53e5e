import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Sql } from 'postgres'

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url))

/** Any constant works; it only has to be the same for every central instance. */
const MIGRATION_LOCK_ID = 7_340_012_001

/**
 * Applies every numbered migration not yet recorded, in order, each in its own transaction.
 * A session-level advisory lock serialises instances that start at the same moment: the
 * second waits, then finds nothing left to do.
 */
export async function migrateDatabase(sql: Sql): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((name) => /^\d{4}_.+\.sql$/.test(name)).sort()
  return sql.begin(async (tx) => {
    // Transaction-level lock: released on commit/rollback even if this process dies.
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`
    await tx`create table if not exists schema_migrations (
      name text primary key, applied_at timestamptz not null default now())`
    const applied = new Set((await tx<{ name: string }[]>`select name from schema_migrations`).map((r) => r.name))
    const newlyApplied: string[] = []
    for (const name of files) {
      if (applied.has(name)) continue
      const text = await readFile(migrationsDir + name, 'utf8')
      // Migration files are trusted, checked-in SQL with several statements: unsafe() is the
      // only way to run a multi-statement script, and nothing in it comes from input.
      await tx.unsafe(text)
      await tx`insert into schema_migrations (name) values (${name})`
      newlyApplied.push(name)
    }
    return newlyApplied
  })
}
