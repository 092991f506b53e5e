import type { RequestHandler } from 'express'
import type { CurrentUser } from './current-user'
import { createCurrentUserResolver, refusalParts, type CurrentUserMiddlewareOptions } from './current-user-middleware'

export type { CurrentUser } from './current-user'
export type { CurrentUserMiddlewareOptions } from './current-user-middleware'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The caller as the edge verified it; `null` on a public route. Set by `currentUser()`. */
      currentUser?: CurrentUser | null
    }
  }
}

/**
 * Express middleware: puts the caller on `req.currentUser` (from the edge's identity headers, or
 * with `verify` by re-verifying the forwarded token), and with `required: true` answers 401 when
 * there is none. `app.use(currentUser())` for all routes, or per route:
 * `app.get('/orders', currentUser({ required: true }), handler)`.
 * @see https://expressjs.com/en/guide/writing-middleware.html
 */
export function currentUser(options: CurrentUserMiddlewareOptions = {}): RequestHandler {
  const resolve = createCurrentUserResolver(options)
  return (req, res, next) => {
    resolve(req.headers).then(async (resolution) => {
      if (resolution.kind === 'resolved') {
        req.currentUser = resolution.user
        return next()
      }
      const { status, headers, body } = await refusalParts(resolution.response)
      res.status(status).set(headers).send(body)
    }, next)
  }
}
