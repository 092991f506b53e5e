import { Hono, type Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { randomBytes } from 'node:crypto'
import { ADMIN_ROLE } from '../../shared/access-token-claims'
import { Conflict, InvalidCredentials, TooManyRequests } from '../../shared/errors'
import { countRecentActivity, listAuditEvents, listHourlyActivity, recordAuditEvent } from '../audit/store'
import { AuditPage, AUDIT_EVENT_TYPES, type AuditFilter } from '../console/audit-page'
import {
  consoleCookieNames,
  csrfTokenFor,
  hashConsoleToken,
  isAllowedFormOrigin,
  newConsoleToken,
  safeEqual,
} from '../console/console-session'
import { CONSOLE_CSS } from '../console/console-styles'
import { KeysPage } from '../console/keys-page'
import { userPath } from '../console/layout'
import { OverviewPage } from '../console/overview-page'
import { MessagePage, SignInPage } from '../console/sign-in-page'
import { deleteConsoleSession, findConsoleAdmin, type ConsoleAdmin } from '../console-sessions/store'
import { startConsoleSession } from '../console-sessions/start-console-session'
import { UserPage } from '../console/user-page'
import { UsersPage } from '../console/users-page'
import type { Config } from '../config'
import { countActiveSessions, listUserSessions, revokeAllUserSessions, revokeSession } from '../sessions/store'
import { listSigningKeys, rotateSigningKey } from '../tokens/signing-keys'
import { authenticateUser, LoginCredentialsSchema } from '../users/authenticate-user'
import { changeUser } from '../users/change-user'
import { findUserByUsername, searchUsersByPrefix } from '../users/store'
import type { AppDeps } from '../app-deps'
import { formatInstant } from '../console/format'
import { clientIp, clientUserAgent } from './client-info'
import { allowedOrigins } from './require-same-origin'

type ConsoleEnv = { Variables: { admin: ConsoleAdmin; sessionToken: string } }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const AUDIT_PAGE_SIZE = 50

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
 * cookie, and on every form post an Origin check plus a CSRF token. Every change is audited
 * with the admin's name as actor (`admin:<username>`).
 */
export function consoleRoutes({ sql, config, clock }: AppDeps) {
  const router = new Hono<ConsoleEnv>()
  const cookies = consoleCookieNames(config)
  const cookieOptions = { httpOnly: true, secure: config.COOKIE_SECURE, sameSite: 'Strict', path: '/' } as const
  const actorOf = (c: Context<ConsoleEnv>) => `admin:${c.get('admin').username}`
  const layoutAdmin = (c: Context<ConsoleEnv>) => ({ username: c.get('admin').username, csrfToken: csrfTokenFor(c.get('sessionToken')) })

  router.use('/console/*', async (c, next) => {
    await next()
    c.header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    c.header('X-Frame-Options', 'DENY')
    c.header('X-Content-Type-Options', 'nosniff')
    // Not no-referrer: with it, browsers send `Origin: null` on form posts and the Origin check could not tell us apart from a sandboxed attacker (Fetch §3.2.5).
    c.header('Referrer-Policy', 'same-origin')
    if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store')
  })

  // Origin check before anything reads a form: a cross-site post is refused whatever it carries.
  router.post('/console/*', async (c, next) => {
    const origin = { origin: c.req.header('Origin'), secFetchSite: c.req.header('Sec-Fetch-Site') }
    if (!isAllowedFormOrigin(origin, allowedOrigins(c, config))) {
      return c.html(<MessagePage title="Request refused" text="Cross-site form submissions are not accepted." />, 403)
    }
    await next()
  })

  router.get('/console', (c) => c.redirect('/console/', 301))
  router.get('/console/assets/console.css', (c) =>
    c.body(CONSOLE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=300' }),
  )

  // --- Sign-in -----------------------------------------------------------------------------

  router.get('/console/sign-in', async (c) => {
    const token = getCookie(c, cookies.session)
    if (token && (await findConsoleAdmin(sql, hashConsoleToken(token), clock()))) return c.redirect('/console/', 303)
    return c.html(<SignInPage csrfToken={issueSignInCsrf(c)} />)
  })

  router.post('/console/sign-in', async (c) => {
    const form = await c.req.parseBody()
    const username = typeof form.username === 'string' ? form.username : ''
    const password = typeof form.password === 'string' ? form.password : ''
    // Login CSRF: before a session exists, a double-submit cookie stands in for the session token.
    if (!safeEqual(str(form._csrf), getCookie(c, cookies.signInCsrf))) {
      return c.html(<MessagePage title="Request refused" text="The sign-in form expired or did not come from this console. Reload and try again." />, 403)
    }
    const refuse = (status: 400 | 401 | 429, error: string) =>
      c.html(<SignInPage csrfToken={issueSignInCsrf(c)} error={error} username={username} />, status)
    // The login API's bounds, before any database work: the same failed sign-in for a username no account can have.
    if (!LoginCredentialsSchema.safeParse({ username, password }).success) return refuse(400, SIGN_IN_FAILED)
    const now = clock()
    const ip = clientIp(c, config)
    let user
    try {
      user = await authenticateUser(sql, config, { username, password, ip, now })
    } catch (error) {
      if (error instanceof TooManyRequests) return refuse(429, `Too many failed attempts. Try again in ${error.headers['Retry-After']} seconds.`)
      if (error instanceof InvalidCredentials) return refuse(401, SIGN_IN_FAILED)
      throw error
    }
    if (!user.roles.includes(ADMIN_ROLE)) {
      // Same answer as a wrong password: the console does not confirm which accounts exist.
      await recordAuditEvent(sql, { type: 'user.login_failed', at: now, actor: 'user', userId: user.id, reason: 'console sign-in without portcullis:admin' })
      return refuse(401, SIGN_IN_FAILED)
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
    if (!started) return refuse(401, SIGN_IN_FAILED)
    deleteCookie(c, cookies.signInCsrf, cookieOptions)
    setCookie(c, cookies.session, token, { ...cookieOptions, maxAge: config.CONSOLE_SESSION_TTL_SECONDS })
    return c.redirect('/console/', 303)
  })

  function issueSignInCsrf(c: Context): string {
    const value = randomBytes(24).toString('base64url')
    setCookie(c, cookies.signInCsrf, value, { ...cookieOptions, maxAge: 3600 })
    return value
  }

  // --- Everything else needs a console session (and, for posts, its CSRF token) ------------

  router.use('/console/*', async (c, next) => {
    const token = getCookie(c, cookies.session)
    const admin = token ? await findConsoleAdmin(sql, hashConsoleToken(token), clock()) : undefined
    if (!token || !admin) {
      if (c.req.method === 'GET') return c.redirect('/console/sign-in', 303)
      return c.html(<MessagePage title="Request refused" text="Your console session has ended. Sign in again." />, 403)
    }
    if (c.req.method === 'POST') {
      const form = await c.req.parseBody()
      if (!safeEqual(str(form._csrf), csrfTokenFor(token))) {
        return c.html(<MessagePage title="Request refused" text="The form did not carry this session's CSRF token. Reload the page and try again." />, 403)
      }
    }
    c.set('admin', admin)
    c.set('sessionToken', token)
    await next()
  })

  router.post('/console/sign-out', async (c) => {
    await deleteConsoleSession(sql, hashConsoleToken(c.get('sessionToken')))
    await recordAuditEvent(sql, { type: 'console.sign_out', at: clock(), actor: actorOf(c), userId: c.get('admin').userId })
    deleteCookie(c, cookies.session, cookieOptions)
    return c.redirect('/console/sign-in', 303)
  })

  router.get('/console/', async (c) => {
    const now = clock()
    const [activeSessions, activity, hours] = await Promise.all([countActiveSessions(sql, now), countRecentActivity(sql, now), listHourlyActivity(sql, now)])
    const counts = { activeSessions, ...activity }
    return c.html(<OverviewPage admin={layoutAdmin(c)} counts={counts} hours={hours} />)
  })

  // --- Users and their sessions ------------------------------------------------------------

  router.get('/console/users', async (c) => {
    const prefix = (c.req.query('q') ?? '').slice(0, 200)
    const users = await searchUsersByPrefix(sql, prefix, 50)
    return c.html(<UsersPage admin={layoutAdmin(c)} prefix={prefix} users={users} />)
  })

  router.get('/console/users/:username', async (c) => {
    const user = await findUserByUsername(sql, c.req.param('username'))
    if (!user) return c.html(<MessagePage title="No such user" text="No user has this username." />, 404)
    const sessions = await listUserSessions(sql, user.id, clock())
    const done = c.req.query('done')
    return c.html(<UserPage admin={layoutAdmin(c)} user={user} sessions={sessions} notice={noticeFor(done, c.req.query(), config)} />)
  })

  router.post('/console/users/:username/sessions/:sessionId/revoke', async (c) => {
    const username = c.req.param('username')
    const sessionId = c.req.param('sessionId')
    const user = await findUserByUsername(sql, username)
    const result = user && UUID.test(sessionId) ? await revokeSession(sql, { sessionId, userId: user.id, actor: actorOf(c), reason: 'revoked in console', now: clock() }) : 'not_found'
    if (result === 'not_found') return c.html(<MessagePage title="No such session" text="This user has no session with this id." />, 404)
    return c.redirect(`${userPath(username)}?done=revoked&session=${sessionId}`, 303)
  })

  router.post('/console/users/:username/sessions/revoke-all', async (c) => {
    const username = c.req.param('username')
    const user = await findUserByUsername(sql, username)
    if (!user) return c.html(<MessagePage title="No such user" text="No user has this username." />, 404)
    const count = await revokeAllUserSessions(sql, { userId: user.id, actor: actorOf(c), reason: 'revoked in console', now: clock() })
    return c.redirect(`${userPath(username)}?done=revoked-all&count=${count}`, 303)
  })

  for (const action of ['disable', 'enable'] as const) {
    router.post(`/console/users/:username/${action}`, async (c) => {
      const username = c.req.param('username')
      const result = await changeUser(sql, { username, patch: { enabled: action === 'enable' }, actor: actorOf(c), clock })
      if (!result) return c.html(<MessagePage title="No such user" text="No user has this username." />, 404)
      const query = action === 'disable' ? `done=disabled&count=${result.sessionsRevoked}` : 'done=enabled'
      return c.redirect(`${userPath(username)}?${query}`, 303)
    })
  }

  // --- Audit trail ---------------------------------------------------------------------------

  router.get('/console/audit', async (c) => {
    const filter: AuditFilter = {
      user: (c.req.query('user') ?? '').trim().slice(0, 200),
      session: (c.req.query('session') ?? '').trim(),
      type: c.req.query('type') ?? '',
    }
    const before = c.req.query('before') ?? ''
    const render = (props: { events?: Awaited<ReturnType<typeof listAuditEvents>>; error?: string }) => {
      const events = props.events ?? []
      const page = events.slice(0, AUDIT_PAGE_SIZE)
      return c.html(
        <AuditPage
          admin={layoutAdmin(c)}
          filter={filter}
          events={page}
          olderBefore={events.length > AUDIT_PAGE_SIZE ? page[page.length - 1]?.id : undefined}
          isFirstPage={!before}
          error={props.error}
        />,
        props.error ? 400 : 200,
      )
    }
    if (filter.session && !UUID.test(filter.session)) return render({ error: 'A session id looks like 8-4-4-4-12 hexadecimal digits.' })
    if (filter.type && !(AUDIT_EVENT_TYPES as readonly string[]).includes(filter.type)) return render({ error: 'Unknown event type.' })
    if (before && !/^\d{1,19}$/.test(before)) return render({ error: 'Bad page marker.' })
    let userId: string | undefined
    if (filter.user) {
      userId = (await findUserByUsername(sql, filter.user))?.id
      if (!userId) return render({ error: `No user has the username “${filter.user}”.` })
    }
    // One more than a page tells whether an older page exists (keyset paging on the event id).
    const events = await listAuditEvents(sql, {
      userId,
      sessionId: filter.session || undefined,
      type: filter.type || undefined,
      beforeId: before || undefined,
      limit: AUDIT_PAGE_SIZE + 1,
    })
    return render({ events })
  })

  // --- Signing keys ----------------------------------------------------------------------------

  router.get('/console/keys', async (c) => {
    const keys = await listSigningKeys(sql, clock())
    const done = c.req.query('done')
    // Told from the keys themselves, never from the URL: a crafted link cannot put words in the notice.
    const newest = keys.reduce<(typeof keys)[number] | undefined>((latest, key) => (!latest || key.createdAt > latest.createdAt ? key : latest), undefined)
    const notice = done === 'rotated' && newest ? `New key ${newest.kid} published; it signs from ${formatInstant(newest.activatesAt)}.` : undefined
    const error = done === 'pending' ? 'A new key is already scheduled; rotate again once it has started signing.' : undefined
    return c.html(<KeysPage admin={layoutAdmin(c)} keys={keys} publishAheadSeconds={config.KEY_PUBLISH_AHEAD_SECONDS} notice={notice} error={error} />)
  })

  router.post('/console/keys/rotate', async (c) => {
    const form = await c.req.parseBody()
    const immediate = form.immediate === '1'
    try {
      await rotateSigningKey(sql, config, clock(), actorOf(c), { immediate, revokePrevious: immediate && form.revokePrevious === '1' })
      return c.redirect('/console/keys?done=rotated', 303)
    } catch (error) {
      if (error instanceof Conflict) return c.redirect('/console/keys?done=pending', 303)
      throw error
    }
  })

  return router
}

const SIGN_IN_FAILED = 'Sign-in failed: wrong username or password, or the account may not use the console.'

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** The message after a post-redirect-get; built here from known codes, never echoed from the URL. */
function noticeFor(done: string | undefined, query: Record<string, string>, config: Config): string | undefined {
  const poll = `${config.REVOCATION_POLL_SECONDS} second${config.REVOCATION_POLL_SECONDS === 1 ? '' : 's'} (the revocation feed poll interval)`
  const enforced = `Its refresh token is dead now; edges reject its access tokens within ${poll}.`
  const count = /^\d+$/.test(query.count ?? '') ? Number(query.count) : 0
  switch (done) {
    case 'revoked':
      return `Session ${UUID.test(query.session ?? '') ? query.session!.slice(0, 8) : ''} revoked. ${enforced}`
    case 'revoked-all':
      return `Revoked ${count} session(s). Refresh tokens are dead now; edges reject every access token issued before now within ${poll}.`
    case 'disabled':
      return `User disabled and ${count} session(s) revoked. Edges reject their access tokens within ${poll}.`
    case 'enabled':
      return 'User enabled. They can sign in again.'
    default:
      return undefined
  }
}
