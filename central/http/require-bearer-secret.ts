import type { MiddlewareHandler } from 'hono'
import { createHash, timingSafeEqual } from 'node:crypto'
import { InvalidToken, NotFound } from '../../shared/errors'

/**
 * Guards an endpoint with a shared Bearer secret (admin API, edge feed, metrics), compared in
 * constant time: both sides are SHA-256 hashed first, so lengths always match and the
 * comparison time says nothing about the secret. No secret configured → the endpoint does not
 * exist (404) rather than being open.
 */
export function requireBearerSecret(secret: string | undefined, what: string): MiddlewareHandler {
  const expected = secret ? sha256(secret) : undefined
  return async (c, next) => {
    if (!expected) throw new NotFound(`${what} is disabled`)
    const header = c.req.header('Authorization')
    if (!header) throw InvalidToken.missing(`${what} requires a Bearer token`)
    const presented = /^Bearer (\S+)$/i.exec(header)?.[1]
    if (!presented || !timingSafeEqual(sha256(presented), expected)) {
      throw new InvalidToken(`${what} token is not valid`)
    }
    await next()
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
