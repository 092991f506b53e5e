import { createRoute, z } from '@hono/zod-openapi'
import { Forbidden, InvalidScope, InvalidTarget } from '../../../shared/errors'
import type { AppDeps } from '../../app-deps'
import { exceedingGrant, type FullGrant } from '../../sessions/narrow-grant'
import { startSession } from '../../sessions/start-session'
import { findOrCreateExternalUser } from '../../users/store'
import { clientIp, clientUserAgent } from '../client-info'
import { createRouter } from '../create-router'
import { ADMIN_API_ACTOR, requireAdminToken } from '../require-admin-token'
import { requireContentType } from '../require-content-type'
import { tokenResponse } from '../token-response'
import { ADMIN_ERRORS, ADMIN_SECURITY, errorResponse, json, TokenCharsSchema, TokenResponseSchema, UsernameSchema } from '../wire-schemas'

const AdminSessionRequestSchema = z
  .object({
    subject: UsernameSchema.openapi({ description: 'Username as known to your own login system; created (without password) if new' }),
    audiences: z
      .array(TokenCharsSchema)
      .max(100)
      .optional()
      .openapi({ description: 'Default: the user\'s granted audiences. A new subject is created with the grant asked for; an existing one must already hold it' }),
    scopes: z.array(TokenCharsSchema).max(100).optional(),
    roles: z.array(TokenCharsSchema).max(100).optional(),
    client_id: TokenCharsSchema.optional(),
  })
  .strict()
  .openapi('AdminSessionRequest')

/**
 * `POST /admin/sessions`: a sign-in path for a team's own login backend, which vouches for the
 * subject; it ends in the same session as a password login.
 */
export function adminSessionStartRoutes(deps: AppDeps) {
  const router = createRouter()
  const { sql, config } = deps
  const admin = requireAdminToken(config)

  router.openapi(
    createRoute({
      method: 'post',
      security: ADMIN_SECURITY,
      path: '/admin/sessions',
      summary: 'Start a session for a subject your own login system authenticated; returns a token pair',
      middleware: [admin, requireContentType('application/json')] as const,
      request: { body: { required: true, content: { 'application/json': { schema: AdminSessionRequestSchema } } } },
      responses: {
        200: json(TokenResponseSchema, 'Session started'),
        ...ADMIN_ERRORS,
        400: errorResponse('Grant asked for outside the existing user\'s (`invalid_scope`, `invalid_target`), or a bad body (`invalid_request`)'),
        415: errorResponse('Body is not JSON'),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const requested = { audiences: body.audiences ?? [], scopes: body.scopes ?? [], roles: body.roles ?? [] }
      const subject = await findOrCreateExternalUser(sql, { username: body.subject, grant: requested, now: deps.clock() })
      const grant = {
        audiences: body.audiences ?? subject.audiences,
        scopes: body.scopes ?? subject.scopes,
        roles: body.roles ?? subject.roles,
      }
      // A session is never wider than its user (a refresh would narrow it anyway): asking an
      // existing subject for more than it holds is refused, not silently cut.
      refuseGrantBeyond(grant, subject)
      const started = await startSession(deps, {
        user: { id: subject.id, ...grant },
        method: { kind: 'vouched' },
        clientId: body.client_id,
        userAgent: clientUserAgent(c),
        ip: clientIp(c, config),
        actor: ADMIN_API_ACTOR,
      })
      // The caller vouches for the subject; a disabled user still gets nothing. startSession
      // checks it under the users row lock, so a disable committed meanwhile counts too.
      if (started.kind === 'refused') throw new Forbidden('user is disabled')
      return tokenResponse(c, config, started.tokens, false)
    },
  )

  return router
}

/** RFC 8707 §2 / RFC 6749 §5.2 codes for a POST /admin/sessions grant outside the user's. */
function refuseGrantBeyond(requested: FullGrant, held: FullGrant): void {
  const part = exceedingGrant(requested, held)
  if (part === undefined) return
  const message = `requested ${part} exceed the user's; grant them first with PATCH /admin/users/{username}`
  throw part === 'audiences' ? new InvalidTarget(message) : new InvalidScope(message)
}
