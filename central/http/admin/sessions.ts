import { createRoute, z } from '@hono/zod-openapi'
import { NotFound } from '../../../shared/errors'
import type { AppDeps } from '../../app-deps'
import { findProvidersOfSessions } from '../../federation/linked-identities'
import { listUserSessions, revokeAllUserSessions, revokeSession } from '../../sessions/store'
import { findUserByUsername } from '../../users/store'
import { createRouter } from '../create-router'
import { ADMIN_API_ACTOR, requireAdminToken } from '../require-admin-token'
import { ADMIN_ERRORS, ADMIN_SECURITY, json, SessionSchema, toSessionJson, UsernameSchema } from '../wire-schemas'

const UsernameParam = z.object({
  username: UsernameSchema.openapi({ param: { name: 'username', in: 'path' } }),
})
const ReasonQuery = z.object({ reason: z.string().max(500).optional().openapi({ description: 'Recorded in the audit trail' }) })

/** `/admin/.../sessions`: list a user's sessions, revoke one, revoke all of a user's. Audited with the admin as actor. */
export function adminSessionRoutes(deps: AppDeps) {
  const router = createRouter()
  const { sql, config } = deps
  const admin = requireAdminToken(config)

  router.openapi(
    createRoute({
      method: 'get',
      security: ADMIN_SECURITY,
      path: '/admin/users/{username}/sessions',
      summary: 'A user\'s sessions (active, revoked and expired until purged)',
      middleware: [admin] as const,
      request: { params: UsernameParam },
      responses: { 200: json(z.object({ sessions: z.array(SessionSchema) }), 'Sessions, newest first'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const user = await findUserByUsername(sql, c.req.valid('param').username)
      if (!user) throw new NotFound('no such user')
      const sessions = await listUserSessions(sql, user.id, deps.clock())
      const providers = await findProvidersOfSessions(sql, sessions.map((s) => s.id))
      return c.json({ sessions: sessions.map((s) => toSessionJson(s, providers.get(s.id) ?? null)) }, 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'delete',
      security: ADMIN_SECURITY,
      path: '/admin/sessions/{id}',
      summary: 'Revoke one session',
      middleware: [admin] as const,
      request: { params: z.object({ id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' } }) }), query: ReasonQuery },
      responses: { 200: json(z.object({ revoked: z.boolean() }), 'revoked: false when it had already ended'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const now = deps.clock()
      const { id } = c.req.valid('param')
      const result = await revokeSession(sql, { sessionId: id, actor: ADMIN_API_ACTOR, reason: c.req.valid('query').reason ?? 'revoked by admin', now })
      if (result === 'not_found') throw new NotFound('no such session')
      return c.json({ revoked: result === 'revoked' }, 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'delete',
      security: ADMIN_SECURITY,
      path: '/admin/users/{username}/sessions',
      summary: 'Revoke every session of a user (also sets the user\'s not-before time)',
      middleware: [admin] as const,
      request: { params: UsernameParam, query: ReasonQuery },
      responses: { 200: json(z.object({ revoked: z.number().int() }), 'How many sessions were revoked'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const user = await findUserByUsername(sql, c.req.valid('param').username)
      if (!user) throw new NotFound('no such user')
      const revoked = await revokeAllUserSessions(sql, { userId: user.id, actor: ADMIN_API_ACTOR, reason: c.req.valid('query').reason ?? 'revoked by admin', now: deps.clock() })
      return c.json({ revoked }, 200)
    },
  )

  return router
}
