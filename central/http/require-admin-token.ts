import type { MiddlewareHandler } from 'hono'
import { timingSafeEqual, createHash } from 'node:crypto'
import { InvalidToken, NotFound } from '../../shared/errors'
import type { Config } from '../config'

/**
 * Guards /admin/*: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time (both
 * sides hashed first so lengths match and nothing leaks through timing). With no
 * ADMIN_TOKEN configured the admin API does not exist (404), rather than being open.
 */
export function requireAdminToken(config: Config): MiddlewareHandler {
  const expected = config.ADMIN_TOKEN ? sha256(config.ADMIN_TOKEN) : undefined
  return async (c, next) => {
    if (!expected) throw new NotFound('admin API is disabled (ADMIN_TOKEN not set)')
    const header = c.req.header('Authorization')
    if (!header) throw InvalidToken.missing('admin API requires a Bearer token')
    const presented = /^Bearer ([^\s]+)$/i.exec(header)?.[1]
    if (!presented || !timingSafeEqual(sha256(presented), expected)) {
      throw new InvalidToken('admin token is not valid')
    }
    c.set('adminActor' as never, 'admin:api' as never)
    await next()
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
