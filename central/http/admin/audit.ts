import { createRoute, z } from '@hono/zod-openapi'
import type { AppDeps } from '../../app-deps'
import { listAuditEvents } from '../../audit/store'
import { findUserByUsername } from '../../users/store'
import { createRouter } from '../create-router'
import { requireAdminToken } from '../require-admin-token'
import { ADMIN_ERRORS, ADMIN_SECURITY, json } from '../wire-schemas'

/** `GET /admin/audit`: the audit trail, newest first, filtered and keyset-paged. */
export function adminAuditRoutes(deps: AppDeps) {
  const router = createRouter()
  const { sql, config } = deps
  const admin = requireAdminToken(config)

  router.openapi(
    createRoute({
      method: 'get',
      security: ADMIN_SECURITY,
      path: '/admin/audit',
      summary: 'Audit trail, newest first, keyset-paged with `before` (an event id)',
      middleware: [admin] as const,
      request: {
        query: z.object({
          user: z.string().min(1).max(200).optional().openapi({ description: 'username' }),
          session: z.string().uuid().optional(),
          type: z.string().max(100).optional(),
          before: z.string().regex(/^\d{1,18}$/).optional(),
          limit: z.coerce.number().int().min(1).max(500).optional(),
        }),
      },
      responses: { 200: json(z.object({ events: z.array(z.record(z.string(), z.unknown())), next_before: z.string().nullable() }), 'Events'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const q = c.req.valid('query')
      let userId: string | undefined
      if (q.user) {
        const user = await findUserByUsername(sql, q.user)
        if (!user) return c.json({ events: [], next_before: null }, 200)
        userId = user.id
      }
      const limit = q.limit ?? 50
      const events = await listAuditEvents(sql, { userId, sessionId: q.session, type: q.type, beforeId: q.before, limit })
      return c.json(
        {
          events: events.map((e) => ({
            id: e.id,
            at: e.at.toISOString(),
            type: e.type,
            actor: e.actor,
            user_id: e.userId,
            username: e.username,
            session_id: e.sessionId,
            reason: e.reason,
            details: e.details,
          })),
          next_before: events.length === limit ? (events.at(-1)?.id ?? null) : null,
        },
        200,
      )
    },
  )

  return router
}
