import type { MiddlewareHandler } from 'hono'
import { UnsupportedMediaType } from '../../shared/errors'

/**
 * 415 before validation for a body in the wrong format: otherwise a JSON body sent to the
 * form-encoded token endpoint would look like an empty form (RFC 6749 §4.1.3 / §6 require
 * application/x-www-form-urlencoded).
 */
export function requireContentType(mediaType: 'application/json' | 'application/x-www-form-urlencoded'): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header('Content-Type')?.split(';')[0]?.trim().toLowerCase()
    if (type !== mediaType) throw new UnsupportedMediaType(`request body must be ${mediaType}`)
    await next()
  }
}
