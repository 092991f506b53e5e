import { randomBytes } from 'node:crypto'
import { inject } from 'vitest'
import postgres, { type Sql } from 'postgres'
import { createPool } from '../../central/db/pool'
import { migrateDatabase } from '../../central/db/migrate'

export interface TestDatabase {
  url: string
  sql: Sql
  drop(): Promise<void>
}

/** A fresh, migrated database for one test file, on the run's PostgreSQL server. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = inject('postgresServerUrl')
  const name = `test_${randomBytes(6).toString('hex')}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin`create database ${admin(name)}`
  const url = withDatabase(serverUrl, name)
  const sql = createPool(url)
  if (options.migrate !== false) await migrateDatabase(sql)
  return {
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 })
      await admin`drop database if exists ${admin(name)} with (force)`
      await admin.end()
    },
  }
}

export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return url.toString()
}
