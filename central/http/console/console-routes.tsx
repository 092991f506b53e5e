import type { AppDeps } from '../../app-deps'
import { CONSOLE_CSS } from '../../console/console-styles'
import { allowedOrigins, decideSameOrigin, requestSite } from '../require-same-origin'
import { consoleAuditRoutes } from './audit'
import { consoleClientRoutes } from './clients'
import { createConsoleRouter } from './console-env'
import { ConsolePageError, handleConsoleError } from './console-errors'
import { consoleKeyRoutes } from './keys'
import { consoleOverviewRoutes } from './overview'
import { requireConsoleSession } from './require-console-session'
import { consoleSignInRoutes, consoleSignOutRoutes } from './sign-in'
import { consoleUserRoutes } from './users'

/**
 * Strict CSP: only central's own stylesheet, no script at all, forms post only to us, and no
 * framing (clickjacking a "Revoke all" button is the attack this stops).
 * @see https://www.w3.org/TR/CSP3/
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/**
 * The ops console at /console/: server-rendered pages (hono/jsx), its own sign-in for users
 * holding `portcullis:admin`, a console session in PostgreSQL behind an HttpOnly SameSite=Strict
 * cookie, and on every form post the same-origin check plus a CSRF token. Every change is audited
 * with the admin's name as actor (`admin:<username>`). Failures are answered in one place,
 * handleConsoleError. One file per page below.
 */
export function consoleRoutes(deps: AppDeps) {
  const { config } = deps
  const router = createConsoleRouter()
  router.onError(handleConsoleError(config))

  router.use('/console/*', async (c, next) => {
    await next()
    c.header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    c.header('X-Frame-Options', 'DENY')
    c.header('X-Content-Type-Options', 'nosniff')
    // Not no-referrer: with it, browsers send `Origin: null` on form posts and the Origin check could not tell us apart from a sandboxed attacker (Fetch §3.2.5).
    c.header('Referrer-Policy', 'same-origin')
    if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store')
  })

  // The API's CSRF rule (Fetch Metadata, then Origin) before anything reads a form: a cross-site
  // post, or one that says nothing about where it came from, is refused whatever it carries.
  router.post('/console/*', async (c, next) => {
    if (decideSameOrigin(requestSite(c), allowedOrigins(c, config)).kind === 'refused') {
      throw new ConsolePageError(403, 'Request refused', 'Cross-site form submissions are not accepted.')
    }
    await next()
  })

  router.get('/console', (c) => c.redirect('/console/', 301))
  router.get('/console/assets/console.css', (c) =>
    c.body(CONSOLE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=300' }),
  )
  router.route('/', consoleSignInRoutes(deps))

  // Everything else needs a console session (and, for posts, its CSRF token).
  router.use('/console/*', requireConsoleSession(deps))
  router.route('/', consoleSignOutRoutes(deps))
  router.route('/', consoleOverviewRoutes(deps))
  router.route('/', consoleUserRoutes(deps))
  router.route('/', consoleAuditRoutes(deps))
  router.route('/', consoleKeyRoutes(deps))
  router.route('/', consoleClientRoutes(deps))
  return router
}
