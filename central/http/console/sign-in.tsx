import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { ADMIN_ROLE } from '../../../shared/access-token-claims'
import type { AppDeps } from '../../app-deps'
import { recordAuditEvent } from '../../audit/store'
import { startConsoleSession } from '../../console-sessions/start-console-session'
import { deleteConsoleSession, findConsoleAdmin } from '../../console-sessions/store'
import { consoleCookieNames, hashConsoleToken, newConsoleToken, safeEqual } from '../../console/console-session'
import { SignInPage } from '../../console/sign-in-page'
import { authenticateUser, LoginCredentialsSchema } from '../../users/authenticate-user'
import { clientIp, clientUserAgent } from '../client-info'
import { actorOf, consoleCookieOptions, createConsoleRouter } from './console-env'
import { ConsolePageError, issueSignInCsrf, SignInRefused } from './console-errors'

/** `/console/sign-in`: the form, and a sign-in for users holding `portcullis:admin`. Needs no console session. */
export function consoleSignInRoutes({ sql, config, clock }: AppDeps) {
  const router = createConsoleRouter()
  const cookies = consoleCookieNames(config)
  const cookieOptions = consoleCookieOptions(config)

  router.get('/console/sign-in', async (c) => {
    const token = getCookie(c, cookies.session)
    if (token && (await findConsoleAdmin(sql, hashConsoleToken(token), clock()))) return c.redirect('/console/', 303)
    return c.html(<SignInPage csrfToken={issueSignInCsrf(c, config)} />)
  })

  router.post('/console/sign-in', async (c) => {
    const form = await c.req.parseBody()
    const username = typeof form.username === 'string' ? form.username : ''
    const password = typeof form.password === 'string' ? form.password : ''
    c.set('signInUsername', username)
    if (!safeEqual(str(form._csrf), getCookie(c, cookies.signInCsrf))) {
      throw new ConsolePageError(403, 'Request refused', 'The sign-in form expired or did not come from this console. Reload and try again.')
    }
    // The login API's bounds, before any database work: the same failed sign-in for a username no account can have.
    if (!LoginCredentialsSchema.safeParse({ username, password }).success) throw new SignInRefused(400)
    const now = clock()
    const ip = clientIp(c, config)
    const user = await authenticateUser(sql, config, { username, password, ip, now })
    if (!user.roles.includes(ADMIN_ROLE)) {
      // Same answer as a wrong password: the console does not confirm which accounts exist.
      await recordAuditEvent(sql, { type: 'user.login_failed', at: now, actor: 'user', userId: user.id, reason: 'console sign-in without portcullis:admin' })
      throw new SignInRefused(401)
    }
    const token = newConsoleToken()
    // Checked again under the users row lock: a disable, a new password or the admin role taken
    // away while argon2 ran gets the same failed sign-in, not a console session.
    const started = await startConsoleSession(sql, {
      tokenHash: hashConsoleToken(token),
      userId: user.id,
      now,
      expiresAt: new Date(now.getTime() + config.CONSOLE_SESSION_TTL_SECONDS * 1000),
      ip: ip || null,
      userAgent: clientUserAgent(c),
      verifiedPasswordHash: user.verifiedPasswordHash,
      actor: `admin:${user.username}`,
    })
    if (!started) throw new SignInRefused(401)
    deleteCookie(c, cookies.signInCsrf, cookieOptions)
    setCookie(c, cookies.session, token, { ...cookieOptions, maxAge: config.CONSOLE_SESSION_TTL_SECONDS })
    return c.redirect('/console/', 303)
  })

  return router
}

/** `POST /console/sign-out`: ends this console session (behind the session guard). */
export function consoleSignOutRoutes({ sql, config, clock }: AppDeps) {
  const router = createConsoleRouter()
  router.post('/console/sign-out', async (c) => {
    await deleteConsoleSession(sql, hashConsoleToken(c.get('sessionToken')))
    await recordAuditEvent(sql, { type: 'console.sign_out', at: clock(), actor: actorOf(c), userId: c.get('admin').userId })
    deleteCookie(c, consoleCookieNames(config).session, consoleCookieOptions(config))
    return c.redirect('/console/sign-in', 303)
  })
  return router
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}
