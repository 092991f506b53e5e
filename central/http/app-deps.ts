import type { Sql } from 'postgres'
import type { Clock } from '../clock'
import type { Config } from '../config'

/** Everything a route needs, passed down from main.ts (the only place that wires things). */
export interface AppDeps {
  sql: Sql
  config: Config
  clock: Clock
}
