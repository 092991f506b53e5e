import type { Sql } from 'postgres'
import { ClientKeySets } from './clients/client-key-sets'
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
  /** Registered clients' `private_key_jwt` key sets, cached for the process. */
  clientKeySets: ClientKeySets
}

export function createAppDeps(input: { sql: Sql; config: Config; clock: Clock }): AppDeps {
  return { ...input, sessions: sessionSettingsFrom(input.config), clientKeySets: new ClientKeySets() }
}
