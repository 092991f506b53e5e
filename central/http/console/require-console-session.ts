import type { MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import type { AppDeps } from '../../app-deps'
import { findConsoleAdmin } from '../../console-sessions/store'
import { consoleCookieNames, csrfTokenFor, hashConsoleToken, safeEqual } from '../../console/console-session'
import type { ConsoleEnv } from './console-env'
import { ConsolePageError } from './console-errors'

/**
 * Every console page but sign-in: a live console session (checked afresh on every request), and
 * on a form post that session's CSRF token. Puts the admin and the session token on the context.
 */
export function requireConsoleSession({ sql, config, clock }: AppDeps): MiddlewareHandler<ConsoleEnv> {
  const cookies = consoleCookieNames(config)
  return async (c, next) => {
    const token = getCookie(c, cookies.session)
    const admin = token ? await findConsoleAdmin(sql, hashConsoleToken(token), clock()) : undefined
    if (!token || !admin) {
      if (c.req.method === 'GET') return c.redirect('/console/sign-in', 303)
      throw new ConsolePageError(403, 'Request refused', 'Your console session has ended. Sign in again.')
    }
    if (c.req.method === 'POST') {
      const form = await c.req.parseBody()
      const sent = typeof form._csrf === 'string' ? form._csrf : undefined
      if (!safeEqual(sent, csrfTokenFor(token))) {
        throw new ConsolePageError(403, 'Request refused', "The form did not carry this session's CSRF token. Reload the page and try again.")
      }
    }
    c.set('admin', admin)
    c.set('sessionToken', token)
    await next()
  }
}
