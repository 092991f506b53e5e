import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { Forbidden, InvalidRequest, InvalidScope, InvalidTarget, NotFound } from '../../shared/errors'
import { listAuditEvents } from '../audit/store'
import { startSession } from '../sessions/start-session'
import { exceedingGrant, type FullGrant } from '../sessions/narrow-grant'
import { listUserSessions, revokeAllUserSessions, revokeSession } from '../sessions/store'
import { findOrCreateExternalUser, findUserByUsername } from '../users/store'
import { listSigningKeys, rotateSigningKey } from '../tokens/signing-keys'
import { ADMIN_ERRORS, ADMIN_SECURITY, UsernameSchema } from './admin-openapi'
import type { AppDeps } from '../app-deps'
import { SessionSchema, toSessionJson } from './auth-routes'
import { clientIp, clientUserAgent } from './client-info'
import { createRouter } from './create-router'
import { ADMIN_API_ACTOR, requireAdminToken } from './require-admin-token'
import { requireContentType } from './require-content-type'
import { errorResponse, TokenCharsSchema, TokenResponseSchema, tokenResponse } from './token-response'

const UsernameParam = z.object({
  username: UsernameSchema.openapi({ param: { name: 'username', in: 'path' } }),
})
const ReasonQuery = z.object({ reason: z.string().max(500).optional().openapi({ description: 'Recorded in the audit trail' }) })

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

const FlagSchema = z.enum(['0', '1']).optional()
const RotateQuerySchema = z.object({
  immediate: FlagSchema.openapi({ description: 'Same as `immediate` in the body' }),
  revokePrevious: FlagSchema.openapi({ description: 'Same as `revokePrevious` in the body' }),
})
const RotateRequestSchema = z
  .object({
    immediate: z.boolean().optional().openapi({ description: 'Sign with the new key now and retire the current key now (a key leaked)' }),
    revokePrevious: z.boolean().optional().openapi({ description: 'With immediate: unpublish every earlier key now; every access token they signed stops verifying' }),
  })
  .strict()
  .openapi('RotateSigningKeyRequest')
const RotateResponseSchema = z.object({
  kid: z.string(),
  activates_at: z.string(),
  retired: z.array(z.object({ kid: z.string(), retired_at: z.string(), unpublish_at: z.string() })),
})

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } })

/** `/admin/*` for sessions, audit and keys. Every change is audited with the admin as actor. */
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
      return c.json({ sessions: sessions.map((s) => toSessionJson(s)) }, 200)
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

  router.openapi(
    createRoute({
      method: 'post',
      security: ADMIN_SECURITY,
      path: '/admin/keys/rotate',
      summary: 'Rotate the signing key: scheduled with overlap by default, or at once after a leak (`immediate`)',
      description: [
        'Default: the new key is published now and signs after KEY_PUBLISH_AHEAD_SECONDS; the current key then retires and stays',
        'published until every token it signed has expired. 409 while a key is still waiting to sign.',
        '',
        '`immediate` (body or `?immediate=1`): the new key signs now, the current key retires now (still published until its tokens',
        'expire), and a key waiting to sign is withdrawn. Edges meet the new `kid` before their cached JWKS has it and refetch',
        '(at most once per refetch cooldown), so a few requests may see 401 and retry after a refresh.',
        '',
        '`revokePrevious` (with `immediate`; body or `?revokePrevious=1`): every earlier key also leaves the JWKS now. Every access',
        'token those keys signed — stolen or not — stops verifying at an edge once it refetches the JWKS (JWKS_MAX_AGE_SECONDS,',
        'or at once on an unknown kid); sessions are not revoked, so clients refresh and carry on with the new key.',
        'Use it when a private key leaked: without it, a leaked key verifies forged tokens until it is unpublished.',
      ].join('\n'),
      middleware: [admin] as const,
      request: {
        query: RotateQuerySchema,
        body: { required: false, content: { 'application/json': { schema: RotateRequestSchema } } },
      },
      responses: {
        200: json(RotateResponseSchema, 'The new key, and the keys it retired or unpublished'),
        409: errorResponse('A key is already waiting to activate and `immediate` was not asked (`conflict`)'),
        ...ADMIN_ERRORS,
      },
    }),
    async (c) => {
      const query = c.req.valid('query')
      const body = c.req.valid('json')
      const immediate = body.immediate ?? query.immediate === '1'
      const revokePrevious = body.revokePrevious ?? query.revokePrevious === '1'
      // Unpublishing the key that still signs would make every new token unverifiable.
      if (revokePrevious && !immediate) throw new InvalidRequest('revokePrevious needs immediate: true')
      const rotated = await rotateSigningKey(sql, config, deps.clock(), ADMIN_API_ACTOR, { immediate, revokePrevious })
      return c.json(
        {
          kid: rotated.kid,
          activates_at: rotated.activatesAt.toISOString(),
          retired: rotated.retired.map((k) => ({ kid: k.kid, retired_at: k.retiredAt.toISOString(), unpublish_at: k.unpublishAt.toISOString() })),
        },
        200,
      )
    },
  )

  router.openapi(
    createRoute({
      method: 'get',
      security: ADMIN_SECURITY,
      path: '/admin/keys',
      summary: 'Signing keys with their state (next, active, retired) and publication window',
      middleware: [admin] as const,
      responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), 'Keys, newest first'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const keys = await listSigningKeys(sql, deps.clock())
      return c.json(
        {
          keys: keys.map((k) => ({
            kid: k.kid,
            alg: k.alg,
            state: k.state,
            published: k.published,
            created_at: k.createdAt.toISOString(),
            activates_at: k.activatesAt.toISOString(),
            retired_at: k.retiredAt?.toISOString() ?? null,
            unpublish_at: k.unpublishAt?.toISOString() ?? null,
          })),
        },
        200,
      )
    },
  )

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
