import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { NotFound, PortcullisError, TooManyRequests } from '../../shared/errors'
import { ProviderTimeout, ProviderUnavailable, SignInFailed, SignInRefused } from '../federation/errors'
import {
  applyBackchannelLogout,
  beginFederatedSignIn,
  completeFederatedSignIn,
  createFederation,
  endFederatedSession,
  endReplacedSession,
  type Federation,
} from '../federation/federated-sign-in'
import { FLOW_TTL_SECONDS } from '../federation/pending-flow'
import { clientKeysJwks } from '../federation/client-keys'
import type { IdentityProvider } from '../federation/identity-providers'
import { rotateRefreshToken, signInWithPassword, type FederationDeps, type FederationSettings } from '../federation/ports'
import { safeReturnTo } from '../federation/return-to'
import { anyUserHasPassword } from '../federation/store'
import { clientIp, clientUserAgent } from './client-info'
import { createRouter } from './create-router'
import { allowedOrigins, decideSameOrigin, requestSite } from './require-same-origin'
import { clearSessionCookies, readRefreshCookie, setSessionCookies } from './session-cookies'
import { SIGN_IN_CSS, SIGN_IN_CSS_PATH, SignInPage, SignInProblemPage, SignOutConfirmPage } from './sign-in-pages'

/**
 * The started sign-in, sealed (see federation/pending-flow), which binds it to this browser.
 * SameSite=Lax: the provider's redirect back is a cross-site top-level GET, which Lax cookies
 * accompany and Strict ones do not.
 */
const FLOW_COOKIE = 'portcullis_flow'
const FLOW_COOKIE_PATH = '/auth/callback'

/** The client's address (TRUST_PROXY-aware) and user agent, as sessions record them. */
function requestClient(c: Context, deps: FederationDeps): { ip: string; userAgent: string | null } {
  return { ip: clientIp(c, deps.config), userAgent: clientUserAgent(c) }
}

/** A form post must come from an allowed origin (login CSRF), as every cookie-authenticated write. */
function isFromAllowedOrigin(c: Context, deps: FederationDeps): boolean {
  return decideSameOrigin(requestSite(c), allowedOrigins(c, deps.config)).kind === 'allowed'
}

/**
 * `/auth/*` routes of sign-in through upstream OpenID Connect providers, and the hosted sign-in
 * page (which also silently renews a session from its refresh cookie).
 */
export function federationRoutes(deps: FederationDeps, providers: readonly IdentityProvider[], settings: FederationSettings) {
  const router = createRouter()
  const federation = createFederation(deps, providers, settings)

  router.get(SIGN_IN_CSS_PATH, (c) =>
    c.body(SIGN_IN_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=300' }),
  )

  router.get('/auth/sign-in', async (c) => {
    page(c, settings)
    const returnTo = safeReturnTo(c.req.query('return_to'), settings.allowedOrigins)
    // The edge sends navigations without a valid access token here: a live refresh chain renews
    // silently (the same retry-safe rotation as /oauth/token, so two tabs get the same successor).
    const refreshToken = readRefreshCookie(c)
    if (refreshToken) {
      const { ip, userAgent } = requestClient(c, deps)
      const renewal = await rotateRefreshToken(deps, { refreshToken, ip, userAgent })
      if (renewal.kind === 'rotated') {
        setSessionCookies(c, deps.config, renewal.tokens)
        return c.redirect(returnTo, 302)
      }
      // Only a session that is over loses its cookies: a refusal for the client or DPoP key
      // proves nothing about the session, and any site can send a browser here.
      if (renewal.kind === 'ended') clearSessionCookies(c, deps.config)
    }
    return renderSignIn(c, federation, { returnTo })
  })

  router.post('/auth/sign-in/password', async (c) => {
    page(c, settings)
    const form = await c.req.parseBody()
    const returnTo = safeReturnTo(typeof form.return_to === 'string' ? form.return_to : undefined, settings.allowedOrigins)
    // Login CSRF: a cross-site form must not sign this browser in as someone else.
    if (!isFromAllowedOrigin(c, deps)) {
      return c.html(<SignInProblemPage title="Request refused" text="Cross-site form submissions are not accepted." retryHref={signInHref(returnTo)} />, 403)
    }
    const username = typeof form.username === 'string' ? form.username.slice(0, 200) : ''
    const password = typeof form.password === 'string' ? form.password.slice(0, 1024) : ''
    if (!username || !password) return renderSignIn(c, federation, { returnTo, error: 'Enter a username and a password.', username }, 400)
    try {
      const { ip, userAgent } = requestClient(c, deps)
      const tokens = await signInWithPassword(deps, { username, password, ip, userAgent })
      await endReplacedSession(federation, { refreshToken: readRefreshCookie(c), newSessionId: tokens.sessionId })
      setSessionCookies(c, deps.config, tokens)
      return c.redirect(returnTo, 302)
    } catch (error) {
      if (error instanceof TooManyRequests) {
        c.header('Retry-After', error.headers['Retry-After'])
        return renderSignIn(c, federation, { returnTo, error: 'Too many failed attempts. Try again later.', username }, 429)
      }
      if (error instanceof PortcullisError && error.status === 401) {
        return renderSignIn(c, federation, { returnTo, error: 'Username or password is incorrect.', username }, 401)
      }
      throw error
    }
  })

  router.get('/auth/sign-in/:provider', async (c) => {
    page(c, settings)
    const providerId = c.req.param('provider')
    const returnTo = safeReturnTo(c.req.query('return_to'), settings.allowedOrigins)
    try {
      const started = await beginFederatedSignIn(federation, { providerId, returnTo })
      setCookie(c, FLOW_COOKIE, started.flowCookie, {
        httpOnly: true,
        secure: settings.cookieSecure,
        sameSite: 'Lax',
        path: FLOW_COOKIE_PATH,
        maxAge: FLOW_TTL_SECONDS,
      })
      return c.redirect(started.redirectTo, 302)
    } catch (error) {
      return problemPage(c, error, { providerId, returnTo })
    }
  })

  router.get('/auth/callback/:provider', async (c) => {
    page(c, settings)
    const providerId = c.req.param('provider')
    const flowCookie = getCookie(c, FLOW_COOKIE) || undefined
    // One attempt per flow: the browser drops it whatever the outcome (a replay of it with the
    // same code fails at the provider, and after a success at the used-state record).
    deleteCookie(c, FLOW_COOKIE, { path: FLOW_COOKIE_PATH, secure: settings.cookieSecure, httpOnly: true, sameSite: 'Lax' })
    try {
      const { ip, userAgent } = requestClient(c, deps)
      const signedIn = await completeFederatedSignIn(federation, {
        providerId,
        callbackQuery: new URL(c.req.url).search,
        flowCookie,
        ip,
        userAgent,
      })
      await endReplacedSession(federation, { refreshToken: readRefreshCookie(c), newSessionId: signedIn.tokens.sessionId })
      setSessionCookies(c, deps.config, signedIn.tokens)
      return c.redirect(signedIn.returnTo, 302)
    } catch (error) {
      return problemPage(c, error, { providerId, returnTo: '/' })
    }
  })

  router.get('/auth/sign-out', async (c) => {
    const returnTo = safeReturnTo(c.req.query('return_to'), settings.allowedOrigins)
    // A link on our own pages (Sec-Fetch-Site: same-origin) or one typed or bookmarked (none)
    // signs out at once. From anywhere else, any site could end the session, and the provider's
    // with it (id_token_hint): the person confirms with a form that posts back here.
    const site = c.req.header('Sec-Fetch-Site')
    if (site === 'same-origin' || site === 'none') return await signOut(c, returnTo)
    await signOutPage(c, federation)
    return c.html(<SignOutConfirmPage returnTo={returnTo} />, 200)
  })

  router.post('/auth/sign-out', async (c) => {
    const form = await c.req.parseBody()
    const returnTo = safeReturnTo(typeof form.return_to === 'string' ? form.return_to : undefined, settings.allowedOrigins)
    if (!isFromAllowedOrigin(c, deps)) {
      page(c, settings)
      return c.html(<SignInProblemPage title="Request refused" text="Cross-site form submissions are not accepted." retryHref="/" />, 403)
    }
    return await signOut(c, returnTo)
  })

  async function signOut(c: Context, returnTo: string) {
    c.header('Cache-Control', 'no-store')
    const next = await endFederatedSession(federation, { refreshToken: readRefreshCookie(c), returnTo })
    clearSessionCookies(c, deps.config)
    return c.redirect(next, 302)
  }

  router.post('/auth/backchannel-logout/:provider', async (c) => {
    c.header('Cache-Control', 'no-store')
    // The logout token is not from a browser: no cookies, no Origin; its signature is the check.
    const contentType = c.req.header('Content-Type') ?? ''
    const form = contentType.startsWith('application/x-www-form-urlencoded') ? await c.req.parseBody() : {}
    const logoutToken = typeof form.logout_token === 'string' && form.logout_token.length <= 16_384 ? form.logout_token : undefined
    try {
      if (!logoutToken) throw new SignInFailed('logout_token is required')
      await applyBackchannelLogout(federation, { providerId: c.req.param('provider'), logoutToken })
      return c.body(null, 200)
    } catch (error) {
      if (!isFederationFailure(error)) throw error
      logFailure(c.req.param('provider'), 'back-channel logout refused', error)
      // OIDC Back-Channel Logout 1.0 §2.8: 400 with an OAuth error body when the request is not valid.
      return c.json({ error: 'invalid_request' }, 400)
    }
  })

  // The providers are fixed at start-up and a client key never changes once stored, so the JWKS
  // is read once per process (again after a failed read).
  let jwks: Promise<string> | undefined
  router.get('/auth/federation-jwks.json', async (c) => {
    jwks ??= clientKeysJwks(deps.sql, settings.keyEncryptionSecret, providers, deps.clock()).then(
      (set) => JSON.stringify(set),
      (error: unknown) => {
        jwks = undefined
        throw error
      },
    )
    c.header('Content-Type', 'application/jwk-set+json')
    return c.body(await jwks, 200)
  })

  return router
}

function isFederationFailure(error: unknown): error is PortcullisError {
  return error instanceof SignInFailed || error instanceof SignInRefused || error instanceof ProviderUnavailable || error instanceof ProviderTimeout || error instanceof NotFound
}

const signInHref = (returnTo: string) => `/auth/sign-in?return_to=${encodeURIComponent(returnTo)}`

/** Pages load only our stylesheet; forms post only to us (and may redirect to allowed origins). */
function page(c: Context, settings: FederationSettings): void {
  c.header(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' ${settings.allowedOrigins.join(' ')}; frame-ancestors 'none'; base-uri 'none'`,
  )
  c.header('Cache-Control', 'no-store')
  c.header('X-Content-Type-Options', 'nosniff')
  c.header('Referrer-Policy', 'no-referrer')
}

/**
 * The sign-out confirmation's headers: its form is answered with a redirect to a provider's
 * end_session_endpoint, and browsers hold redirects after a form post to `form-action` too.
 */
async function signOutPage(c: Context, federation: Federation): Promise<void> {
  const providerOrigins = await federation.relyingParty.endSessionOrigins([...federation.providers.values()])
  page(c, { ...federation.settings, allowedOrigins: [...new Set([...federation.settings.allowedOrigins, ...providerOrigins])] })
}

async function renderSignIn(c: Context, federation: Federation, input: { returnTo: string; error?: string; username?: string }, status: 200 | 400 | 401 | 429 = 200) {
  page(c, federation.settings)
  const providers = [...federation.providers.values()].map((p) => ({ id: p.id, label: p.label ?? p.id }))
  const showPassword = providers.length === 0 || (await anyUserHasPassword(federation.deps.sql))
  return c.html(<SignInPage providers={providers} returnTo={input.returnTo} showPassword={showPassword} error={input.error} username={input.username} />, status)
}

/** A failed step of sign-in as a page; the reason is logged (never a token, code or secret). */
function problemPage(c: Context, error: unknown, context: { providerId: string; returnTo: string }) {
  if (!isFederationFailure(error)) throw error
  logFailure(context.providerId, 'federated sign-in failed', error)
  const retryHref = signInHref(context.returnTo)
  if (error instanceof NotFound) return c.html(<SignInProblemPage title="Unknown sign-in method" text="There is no identity provider with this name." retryHref={retryHref} />, 404)
  if (error instanceof ProviderTimeout) {
    return c.html(<SignInProblemPage title="Sign-in failed" text="The identity provider did not answer in time. Try again in a moment." retryHref={retryHref} />, 504)
  }
  if (error instanceof ProviderUnavailable) {
    return c.html(<SignInProblemPage title="Sign-in failed" text="The identity provider could not be reached. Try again in a moment." retryHref={retryHref} />, 502)
  }
  if (error instanceof SignInRefused) {
    return c.html(<SignInProblemPage title="Sign-in refused" text={`You cannot sign in here: ${error.message}.`} retryHref={retryHref} />, 403)
  }
  return c.html(<SignInProblemPage title="Sign-in failed" text="Sign-in failed, try again." retryHref={retryHref} />, 400)
}

function logFailure(providerId: string, msg: string, error: PortcullisError): void {
  const cause = error.cause as { name?: string; code?: string } | undefined
  console.warn(
    JSON.stringify({
      level: 'warn',
      msg,
      provider: providerId.slice(0, 64),
      status: error.status,
      reason: error.message,
      ...(cause?.name ? { library: [cause.name, cause.code].filter(Boolean).join(':') } : {}),
    }),
  )
}
