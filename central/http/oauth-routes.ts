import { createRoute, z } from '@hono/zod-openapi'
import { InvalidRequest, UnsupportedGrantType } from '../../shared/errors'
import { hashRefreshToken, looksLikeRefreshToken } from '../sessions/refresh-token'
import { findSessionIdByTokenHash, revokeSession } from '../sessions/store'
import { verifyAccessToken } from '../tokens/verify-access-token'
import type { AppDeps } from '../app-deps'
import { createRouter } from './create-router'
import type { GrantHandler } from './grants/grant-handler'
import { refreshTokenGrant } from './grants/refresh-token-grant'
import { requireContentType } from './require-content-type'
import { errorResponse, TokenCharsSchema, TokenResponseSchema } from './wire-schemas'

const TokenRequestSchema = z
  .object({
    grant_type: z.string().max(100).optional(),
    refresh_token: z.string().max(1024).optional().openapi({ description: 'Absent: taken from the portcullis_rt cookie (browser mode)' }),
    client_id: TokenCharsSchema.optional(),
    scope: z.string().max(2000).optional().openapi({ description: 'Space-separated; may narrow the session\'s scopes, never widen' }),
    resource: z.string().min(1).max(2000).optional().openapi({ description: 'RFC 8707: one of the session\'s audiences' }),
  })
  .openapi('RefreshTokenRequest')

const RevokeRequestSchema = z
  .object({
    token: z.string().max(4096).optional(),
    token_type_hint: z.string().max(100).optional(),
    client_id: TokenCharsSchema.optional(),
  })
  .openapi('RevocationRequest')

const FORM = 'application/x-www-form-urlencoded'

const tokenRoute = createRoute({
  method: 'post',
  path: '/oauth/token',
  summary: 'RFC 6749 §6 refresh grant (rotates the refresh token; sid stays)',
  description: [
    'Default: `refresh_token` in the form; the body carries the new pair (RFC 6749 §5.1).',
    '',
    'Cookie mode (browser apps): leave `refresh_token` out; it is read from the `portcullis_rt` cookie, the request needs an',
    'allowed `Origin` (CSRF, else 403), and the new pair is set as HttpOnly cookies and **left out of the body**',
    '(`{token_type, expires_in, scope}`), so page scripts never see a token.',
  ].join('\n'),
  middleware: [requireContentType(FORM)] as const,
  request: { body: { required: true, content: { [FORM]: { schema: TokenRequestSchema } } } },
  responses: {
    200: { description: 'New token pair', content: { 'application/json': { schema: TokenResponseSchema } } },
    400: errorResponse('`invalid_request`, `invalid_grant`, `unsupported_grant_type`, `invalid_scope`, `invalid_target`'),
    403: errorResponse('Cookie request without an allowed Origin'),
    415: errorResponse('Body is not form-encoded'),
  },
})

const revokeRoute = createRoute({
  method: 'post',
  path: '/oauth/revoke',
  summary: 'RFC 7009 token revocation: ends the session of a refresh token or access token',
  middleware: [requireContentType(FORM)] as const,
  request: { body: { required: true, content: { [FORM]: { schema: RevokeRequestSchema } } } },
  responses: {
    200: { description: 'Revoked, or the token was unknown (RFC 7009 §2.2)' },
    400: errorResponse('`token` missing (`invalid_request`)'),
    415: errorResponse('Body is not form-encoded'),
  },
})

/** The token endpoint's grant types, each a small handler in grants/; a new grant is one more entry. */
const GRANTS: Record<string, GrantHandler> = {
  refresh_token: refreshTokenGrant,
}

/** `/oauth/*`: the token endpoint (dispatching on grant_type) and the revocation endpoint. */
export function oauthRoutes(deps: AppDeps) {
  const router = createRouter()
  const { config } = deps

  router.openapi(tokenRoute, async (c) => {
    const form = c.req.valid('form')
    c.header('Cache-Control', 'no-store')
    if (!form.grant_type) throw new InvalidRequest('grant_type is required')
    const handle = Object.hasOwn(GRANTS, form.grant_type) ? GRANTS[form.grant_type] : undefined
    // Logins go through /auth/login, not a password grant (RFC 6749 §5.2 unsupported_grant_type).
    if (!handle) throw new UnsupportedGrantType(`only ${Object.keys(GRANTS).map((g) => `grant_type=${g}`).join(', ')} is supported`)
    return handle(c, deps, form)
  })

  router.openapi(revokeRoute, async (c) => {
    const form = c.req.valid('form')
    if (!form.token) throw new InvalidRequest('token is required')
    const now = deps.clock()
    let sessionId: string | undefined
    if (looksLikeRefreshToken(form.token)) {
      sessionId = await findSessionIdByTokenHash(deps.sql, hashRefreshToken(form.token))
    } else {
      // An access token: revoke its session only if we really signed it (a forged sid must not
      // end someone else's session). Anything unverifiable is "unknown" → 200 (RFC 7009 §2.2).
      sessionId = await verifyAccessToken(deps, form.token, now).then(
        (claims) => claims.sid,
        () => undefined,
      )
    }
    if (sessionId) await revokeSession(deps.sql, { sessionId, actor: 'user', reason: 'revoked by client (RFC 7009)', now })
    c.header('Cache-Control', 'no-store')
    return c.body(null, 200)
  })

  return router
}
