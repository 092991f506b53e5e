import { createRoute, z } from '@hono/zod-openapi'
import { InvalidCredentials, InvalidToken, NotFound } from '../../shared/errors'
import {
  authenticatedClientId,
  authenticateRequestClient,
  clientRequiresDpop,
  publicEndpointUrl,
  requireClientGrant,
  verifyRequestDpopProof,
} from '../clients/token-request-client'
import { findProvidersOfSessions } from '../federation/linked-identities'
import { DEFAULT_CLIENT_ID } from '../sessions/default-client'
import { startSession } from '../sessions/start-session'
import { looksLikeRefreshToken } from '../sessions/refresh-token'
import { refreshTokenHolder } from '../sessions/refresh-token-holder'
import { listUserSessions, revokeAllUserSessions, revokeSession } from '../sessions/store'
import { authenticateUser, INVALID_CREDENTIALS, LoginCredentialsSchema } from '../users/authenticate-user'
import type { AppDeps } from '../app-deps'
import { authenticateCaller } from './authenticate-caller'
import { clientIp, clientUserAgent } from './client-info'
import { createRouter } from './create-router'
import { requireContentType } from './require-content-type'
import { assertSameOrigin } from './require-same-origin'
import { clearSessionCookies, readAccessCookie, readRefreshCookie } from './session-cookies'
import { tokenResponse } from './token-response'
import { errorResponse, SessionSchema, TokenCharsSchema, TokenResponseSchema, toSessionJson } from './wire-schemas'

const LoginSchema = LoginCredentialsSchema
  .extend({
    client_id: TokenCharsSchema.optional().openapi({ description: `Client the session is bound to (default "${DEFAULT_CLIENT_ID}")` }),
    cookie: z.boolean().optional().openapi({ description: 'true: browser mode, tokens are set as HttpOnly cookies and left out of the body' }),
  })
  .openapi('Login')

const bearerErrors = {
  401: errorResponse('Missing, invalid or revoked access token (`invalid_token`, with WWW-Authenticate)'),
  403: errorResponse('Cookie request that is cross-site, or carries neither an allowed Origin nor Sec-Fetch-Site: same-origin (`forbidden`)'),
}

const loginRoute = createRoute({
  method: 'post',
  path: '/auth/login',
  summary: 'Log in with username and password; starts a session',
  description: [
    'Default (API clients): the body is `{access_token, token_type: "Bearer", expires_in, refresh_token, scope}`.',
    '',
    'Cookie mode (browser apps: `{"cookie": true}` or `?cookie=1`): the tokens are set as cookies and **left out of the body**,',
    'which is then `{token_type, expires_in, scope}`. This departs from the plain token response on purpose: a token in a',
    'JSON body is readable by any script on the page (an XSS steals the session), an HttpOnly cookie is not.',
    '`portcullis_at` (access token; HttpOnly, SameSite=Lax, Path=/, Secure unless COOKIE_SECURE=false) is read by the',
    'edge; `portcullis_rt` (refresh token; HttpOnly, SameSite=Lax, Path=/oauth and Path=/auth) only reaches the auth',
    'endpoints. Cookie-mode requests must say they are same-origin (`Sec-Fetch-Site: same-origin`, or an allowed `Origin`; CSRF), else 403.',
  ].join('\n'),
  middleware: [requireContentType('application/json')] as const,
  request: {
    query: z.object({ cookie: z.enum(['0', '1']).optional().openapi({ description: '1: browser (cookie) mode, same as {"cookie": true}' }) }),
    body: { required: true, content: { 'application/json': { schema: LoginSchema } } },
  },
  responses: {
    200: {
      description: 'Session started. In cookie mode the tokens are only in Set-Cookie, not in the body',
      headers: z.object({ 'Set-Cookie': z.string().optional().openapi({ description: 'Cookie mode only: portcullis_at and portcullis_rt (HttpOnly)' }) }),
      content: { 'application/json': { schema: TokenResponseSchema } },
    },
    400: errorResponse('Malformed body (`invalid_request`)'),
    401: errorResponse('Wrong username or password (`invalid_credentials`)'),
    415: errorResponse('Body is not JSON'),
    429: errorResponse('Too many failed attempts; see Retry-After (`too_many_requests`)'),
  },
})

const logoutRoute = createRoute({
  method: 'post',
  path: '/auth/logout',
  summary: 'End the caller\'s session (Bearer access token, or the browser cookies)',
  responses: { 204: { description: 'Session ended (or already ended); cookies cleared' }, ...bearerErrors },
})

const logoutAllRoute = createRoute({
  method: 'post',
  path: '/auth/logout-all',
  summary: 'End every session of the caller ("log out everywhere")',
  responses: {
    200: { description: 'Sessions ended', content: { 'application/json': { schema: z.object({ revoked: z.number().int() }) } } },
    ...bearerErrors,
  },
})

const listRoute = createRoute({
  method: 'get',
  path: '/auth/sessions',
  summary: 'The caller\'s sessions with their device metadata',
  responses: {
    200: { description: 'Sessions, newest first', content: { 'application/json': { schema: z.object({ sessions: z.array(SessionSchema) }) } } },
    ...bearerErrors,
  },
})

const revokeOwnRoute = createRoute({
  method: 'delete',
  path: '/auth/sessions/{id}',
  summary: 'Revoke one of the caller\'s sessions',
  request: { params: z.object({ id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: { 204: { description: 'Revoked (or already ended)' }, 404: errorResponse('No such session of the caller'), ...bearerErrors },
})

/** `/auth/*`: login, logout, log out everywhere, and the caller's own sessions. */
export function authRoutes(deps: AppDeps) {
  const router = createRouter()
  const { sql, config } = deps
  const loginUrl = publicEndpointUrl(config, '/auth/login')

  router.openapi(loginRoute, async (c) => {
    const body = c.req.valid('json')
    const cookieMode = body.cookie === true || c.req.valid('query').cookie === '1'
    // Login CSRF: a cross-site form must not log the browser into someone else's account.
    if (cookieMode) assertSameOrigin(c, config)
    // The client names itself (a login carries no client credentials): an implicit id, or a
    // registered public client allowed the password flow (REQUIRE_REGISTERED_CLIENTS: only those).
    const client = await authenticateRequestClient(deps, { clientId: body.client_id }, { endpointUrl: loginUrl, defaultClientId: DEFAULT_CLIENT_ID })
    requireClientGrant(client, 'password')
    // RFC 9449 §5: a proof here binds the whole session (access tokens and refresh chain) to its key.
    const dpopJkt = await verifyRequestDpopProof(deps, c.req.header('DPoP'), { method: 'POST', url: loginUrl, required: clientRequiresDpop(client) })
    const ip = clientIp(c, config)
    const user = await authenticateUser(sql, config, { username: body.username, password: body.password, ip, now: deps.clock() })
    const started = await startSession(deps, {
      user,
      method: { kind: 'password', verifiedPasswordHash: user.verifiedPasswordHash },
      clientId: authenticatedClientId(client),
      dpopJkt,
      userAgent: clientUserAgent(c),
      ip,
      actor: 'user',
    })
    // Disabled or given a new password while argon2 ran: the answer of a wrong password.
    if (started.kind === 'refused') throw new InvalidCredentials(INVALID_CREDENTIALS)
    return tokenResponse(c, config, started.tokens, cookieMode)
  })

  router.openapi(logoutRoute, async (c) => {
    const now = deps.clock()
    let sessionId: string | undefined
    if (c.req.header('Authorization')) {
      sessionId = (await authenticateCaller(c, deps)).claims.sid
    } else {
      const refreshToken = readRefreshCookie(c)
      // No credentials at all is a missing token (RFC 6750 §3.1: 401 with a Bearer challenge),
      // as on logout-all and sessions; only a request carrying cookies meets the CSRF check.
      if (!refreshToken && !readAccessCookie(c)) throw InvalidToken.missing()
      // Browser: the refresh cookie (Path=/auth) still identifies the session when the
      // access token has expired. Either way a cookie request must pass the same-origin check.
      assertSameOrigin(c, config)
      if (refreshToken && looksLikeRefreshToken(refreshToken)) {
        sessionId = (await refreshTokenHolder(deps, refreshToken))?.sessionId
      } else {
        sessionId = (await authenticateCaller(c, deps)).claims.sid
      }
    }
    if (sessionId) await revokeSession(sql, { sessionId, actor: 'user', reason: 'logout', now })
    clearSessionCookies(c, config)
    return c.body(null, 204)
  })

  router.openapi(logoutAllRoute, async (c) => {
    const { claims } = await authenticateCaller(c, deps)
    const revoked = await revokeAllUserSessions(sql, { userId: claims.sub, actor: 'user', reason: 'logout everywhere', now: deps.clock() })
    clearSessionCookies(c, config)
    return c.json({ revoked }, 200)
  })

  router.openapi(listRoute, async (c) => {
    const { claims } = await authenticateCaller(c, deps)
    const sessions = await listUserSessions(sql, claims.sub, deps.clock())
    const providers = await findProvidersOfSessions(sql, sessions.map((s) => s.id))
    return c.json({ sessions: sessions.map((s) => toSessionJson(s, providers.get(s.id) ?? null, claims.sid)) }, 200)
  })

  router.openapi(revokeOwnRoute, async (c) => {
    const { claims } = await authenticateCaller(c, deps)
    const now = deps.clock()
    const { id } = c.req.valid('param')
    // Another user's session is "not found": its existence is none of the caller's business.
    const result = await revokeSession(sql, { sessionId: id, userId: claims.sub, actor: 'user', reason: 'revoked by user', now })
    if (result === 'not_found') throw new NotFound('no such session')
    return c.body(null, 204)
  })

  return router
}
