import type { Sql } from 'postgres'
import { afterAll, beforeAll } from 'vitest'
import { loadConfig, type Config } from '../../central/config'
import { createApp } from '../../central/http/app'
import { createAppDeps, type AppDeps } from '../../central/app-deps'
import { ensureSigningKeys } from '../../central/tokens/signing-keys'
import { createTestDatabase, type TestDatabase } from './database'

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef'
export const TEST_ISSUER = 'http://central.test'

/** A clock tests move by hand: `clock.advance(seconds)`. Starts at the current second. */
export interface ControllableClock {
  (): Date
  advance(seconds: number): void
  set(at: Date): void
}

export function controllableClock(start = new Date(Math.floor(Date.now() / 1000) * 1000)): ControllableClock {
  let ms = start.getTime()
  const clock = (() => new Date(ms)) as ControllableClock
  clock.advance = (seconds) => {
    ms += seconds * 1000
  }
  clock.set = (at) => {
    ms = at.getTime()
  }
  return clock
}

export interface CentralTestApp {
  app: ReturnType<typeof createApp>
  deps: AppDeps
  clock: ControllableClock
  config: Config
}

export interface CentralAppOptions {
  env?: Record<string, string>
  clock?: ControllableClock
}

/**
 * The real central app on a real database, with a controllable clock and signing keys in
 * place. `env` overrides configuration (strings, as from the environment).
 */
export async function buildCentralApp(sql: Sql, options: CentralAppOptions = {}): Promise<CentralTestApp> {
  const config = loadConfig({
    ISSUER: TEST_ISSUER,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    COOKIE_SECURE: 'true',
    ...options.env,
  })
  const clock = options.clock ?? controllableClock()
  const deps = createAppDeps({ sql, config, clock })
  await ensureSigningKeys(sql, config, clock())
  return { app: createApp(deps), deps, clock, config }
}

export interface CentralTestFile {
  db: TestDatabase
  t: CentralTestApp
}

/**
 * For a test file: central (as `buildCentralApp` makes it) on its own fresh database for the
 * whole file, dropped after. `db` and `t` are filled in by `beforeAll`, so read them inside
 * tests, hooks and helpers they call, not at the top level of the file.
 */
export function useCentralTestApp(options: CentralAppOptions = {}): CentralTestFile {
  const central = {} as CentralTestFile
  beforeAll(async () => {
    central.db = await createTestDatabase()
    central.t = await buildCentralApp(central.db.sql, options)
  })
  afterAll(() => central.db?.drop())
  return central
}
