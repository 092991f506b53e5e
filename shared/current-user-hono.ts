import type { MiddlewareHandler } from 'hono'
import type { CurrentUser } from './current-user'
import { createCurrentUserResolver, type CurrentUserMiddlewareOptions } from './current-user-middleware'

export type { CurrentUser } from './current-user'
export type { CurrentUserMiddlewareOptions } from './current-user-middleware'

declare module 'hono' {
  interface ContextVariableMap {
    /** The caller as the edge verified it; `null` on a public route. Set by `currentUser()`. */
    currentUser: CurrentUser | null
  }
}

/**
 * Hono middleware: `c.get('currentUser')` is the caller (from the edge's identity headers, or with
 * `verify` by re-verifying the forwarded token); with `required: true` it answers 401 when there is
 * none. Runs on every runtime Hono does (web-standard APIs only).
 * @see https://hono.dev/docs/guides/middleware
 */
export function currentUser(options: CurrentUserMiddlewareOptions = {}): MiddlewareHandler {
  const resolve = createCurrentUserResolver(options)
  return async (c, next) => {
    const resolution = await resolve(c.req.raw.headers)
    if (resolution.kind === 'refused') return resolution.response
    c.set('currentUser', resolution.user)
    await next()
  }
}
