import postgres, { type Sql } from 'postgres'

export interface PoolOptions {
  max?: number
  /** Seconds to wait for a connection before failing: keeps "database down" a fast 503, not a hang. */
  connectTimeoutSeconds?: number
}

/** Seconds a pooled connection waits before reconnecting after a failed connection. */
const RECONNECT_DELAY_SECONDS = 0.1

/** The one `sql` per process. Store functions take it as their first argument. */
export function createPool(databaseUrl: string, options: PoolOptions = {}): Sql {
  return postgres(databaseUrl, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 3,
    // postgres.js waits `backoff(failures)` seconds before reconnecting, growing to 20 s with
    // failures counted across the whole pool. A query handed to such a connection waits that
    // long: during an outage the request hangs instead of a fast 503, and after the database
    // returns, requests keep hanging for up to 20 s. A short, flat delay keeps both fast;
    // clients retrying on 503 are what paces the load.
    backoff: () => RECONNECT_DELAY_SECONDS,
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
