/**
 * True when the error means "the database cannot be reached right now" (connection refused,
 * reset, timed out, server shutting down) as opposed to a bug in a query. Such requests get
 * a fast 503 and a retry leaves nothing changed, because their transaction never committed.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: string }).code
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    code === 'EPIPE' ||
    code === 'CONNECT_TIMEOUT' ||
    code === 'CONNECTION_CLOSED' ||
    code === 'CONNECTION_ENDED' ||
    code === 'CONNECTION_DESTROYED' ||
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now
    code === '08006' || // connection_failure
    code === '08001' || // sqlclient_unable_to_establish_sqlconnection
    code === '08003' // connection_does_not_exist
  )
}

/**
 * True for PostgreSQL class 22 "data exception" (e.g. 22021: a NUL byte in text, 22P02: not
 * a valid uuid): a value from the request that the database cannot store or compare. That is
 * the client's input, not a server fault, so it answers 400 rather than 500 — and nothing was
 * changed, because the statement failed.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export function isInvalidInputValue(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  return error.name === 'PostgresError' && typeof code === 'string' && code.startsWith('22')
}

/**
 * PostgreSQL aborted the transaction to settle a race with another one: 40P01 (deadlock
 * detected) or 40001 (serialization failure). Nothing was committed, and the same request
 * retried a moment later normally succeeds, so it is a retryable 503, not a server bug's 500.
 * @see https://www.postgresql.org/docs/current/mvcc-serialization-failure-handling.html
 */
export function isTransactionConflict(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  return error.name === 'PostgresError' && (code === '40P01' || code === '40001')
}
