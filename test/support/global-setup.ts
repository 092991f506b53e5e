import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startEmbeddedPostgres } from '../../central/db/embedded-postgres'

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of a server where test files may create their own databases. */
    postgresServerUrl: string
  }
}

/**
 * One PostgreSQL for the whole run: TEST_DATABASE_URL when set, otherwise an embedded server
 * in a throwaway folder (what CI and a fresh machine get). Each test file creates its own
 * database on it (see database.ts).
 */
export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL
  if (external) {
    project.provide('postgresServerUrl', external)
    return
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-test-pg-'))
  const database = await startEmbeddedPostgres({ dataDir, persistent: false })
  project.provide('postgresServerUrl', database.url)
  return async () => {
    await database.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
