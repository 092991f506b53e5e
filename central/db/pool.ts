import postgres, { type Sql } from 'postgres'

export interface PoolOptions {
  max?: number
  /** Seconds to wait for a connection before failing: keeps "database down" a fast 503, not a hang. */
  connectTimeoutSeconds?: number
}

/** The one `sql` per process. Store functions take it as their first argument. */
export function createPool(databaseUrl: string, options: PoolOptions = {}): Sql {
  return postgres(databaseUrl, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 3,
    idle_timeout: 30,
    onnotice: () => {},
    transform: { undefined: null },
  })
}
