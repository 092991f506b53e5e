import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrateDatabase } from '../../central/db/migrate'
import { createPool } from '../../central/db/pool'
import { createTestDatabase, type TestDatabase } from '../support/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

describe('migrateDatabase', () => {
  it('creates the schema once and is a no-op when run again', async () => {
    const again = await migrateDatabase(db.sql)
    expect(again).toEqual([])
    const tables = await db.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public'`
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['users', 'sessions', 'legacy_refresh_tokens', 'audit_events', 'signing_keys', 'schema_migrations']),
    )
  })

  it('applies each migration exactly once when several instances start at once', async () => {
    const fresh = await createTestDatabase({ migrate: false })
    const pools = [createPool(fresh.url), createPool(fresh.url), createPool(fresh.url)]
    try {
      const results = await Promise.all(pools.map((sql) => migrateDatabase(sql)))
      const appliedByAll = results.flat()
      expect(appliedByAll.length).toBeGreaterThan(0)
      expect(new Set(appliedByAll).size).toBe(appliedByAll.length)
      expect(results.filter((r) => r.length > 0)).toHaveLength(1)
    } finally {
      await Promise.all(pools.map((sql) => sql.end()))
      await fresh.drop()
    }
  })
})
