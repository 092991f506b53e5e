import type { Sql } from 'postgres'
import type { Clock } from './clock'
import type { Config } from './config'
import { sessionSettingsFrom, type SessionSettings } from './sessions/session-settings'

/** Everything the routes need, built once by main.ts (the only place that wires things). */
export interface AppDeps {
  sql: Sql
  config: Config
  clock: Clock
  /** Session lifetimes, derived from config once here. */
  sessions: SessionSettings
}

export function createAppDeps(input: { sql: Sql; config: Config; clock: Clock }): AppDeps {
  return { ...input, sessions: sessionSettingsFrom(input.config) }
}
