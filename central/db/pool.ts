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

/**
 * What a store function needs to run queries: the pool or a transaction (`sql.begin((tx) => …)`).
 * postgres.js types `TransactionSql` apart from `Sql`; both extend `ISql`, so store functions
 * that may run inside a caller's transaction take this.
 */
export type Queryable = postgres.ISql
