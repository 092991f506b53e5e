import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { PayloadTooLarge, PortcullisError, ServiceUnavailable, InvalidRequest, UnsupportedMediaType } from '../../shared/errors'
import { toErrorResponse } from '../../shared/oauth-error-response'
import { isDatabaseUnavailable, isInvalidInputValue, isTransactionConflict } from '../db/database-errors'

/**
 * `app.onError`: expected failures become RFC-style bodies; a database that cannot be reached
 * becomes a fast 503; anything else is logged (message only — never request data, tokens or
 * passwords) and answered with a bare 500.
 */
export function handleError(error: Error, c: Context): Response {
  const known = classify(error)
  if (known) return toErrorResponse(known, { realm: 'portcullis' })
  console.error(
    JSON.stringify({ level: 'error', msg: 'unhandled error', route: c.req.routePath, path: c.req.path, error: error.name, detail: error.message }),
  )
  return toErrorResponse(error)
}

/** Seconds a client should wait before retrying a 503 caused by the database. */
const DATABASE_RETRY_AFTER_SECONDS = 1

function classify(error: Error): PortcullisError | undefined {
  if (error instanceof PortcullisError) return error
  if (isDatabaseUnavailable(error)) return new ServiceUnavailable('database unavailable, retry shortly', DATABASE_RETRY_AFTER_SECONDS, { cause: error })
  if (isTransactionConflict(error)) {
    return new ServiceUnavailable('the request conflicted with a concurrent change, retry shortly', DATABASE_RETRY_AFTER_SECONDS, { cause: error })
  }
  if (isInvalidInputValue(error)) return new InvalidRequest('a value in the request is not valid', { cause: error })
  if (error instanceof HTTPException) {
    if (error.status === 413) return new PayloadTooLarge('request body too large')
    // @hono/zod-openapi answers an optional JSON body sent in another format with a bare 415.
    if (error.status === 415) return new UnsupportedMediaType('request body must be application/json')
    if (error.status < 500) return new InvalidRequest(error.message || 'malformed request')
  }
  return undefined
}
