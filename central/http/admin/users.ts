import { createRoute, z } from '@hono/zod-openapi'
import { NotFound } from '../../../shared/errors'
import type { AppDeps } from '../../app-deps'
import { changeUser } from '../../users/change-user'
import { hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../users/passwords'
import { createUser, findUserByUsername, searchUsersByPrefix } from '../../users/store'
import { toUserView, type UserRecord } from '../../users/user-record'
import { createRouter } from '../create-router'
import { ADMIN_API_ACTOR, requireAdminToken } from '../require-admin-token'
import { requireContentType } from '../require-content-type'
import { ADMIN_ERRORS, ADMIN_SECURITY, errorResponse, TokenCharsSchema, UsernameSchema } from '../wire-schemas'

/** RFC 6749 §3.3 scope-tokens (TokenCharsSchema); audiences and roles follow the same rule. */
const GrantListSchema = z.array(TokenCharsSchema).max(100)

const PasswordSchema = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `at most ${PASSWORD_MAX_LENGTH} characters`)

const UserSchema = z
  .object({
    id: z.string().uuid(),
    username: z.string(),
    enabled: z.boolean(),
    has_password: z.boolean(),
    audiences: z.array(z.string()),
    scopes: z.array(z.string()),
    roles: z.array(z.string()),
    not_before: z.string().nullable().openapi({ description: 'Access tokens issued before this instant are revoked' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('User')

const CreateUserSchema = z
  .object({
    username: UsernameSchema,
    password: PasswordSchema,
    audiences: GrantListSchema.default([]),
    scopes: GrantListSchema.default([]),
    roles: GrantListSchema.default([]),
  })
  .strict()
  .openapi('CreateUser')

const UpdateUserSchema = z
  .object({
    enabled: z.boolean().optional().openapi({ description: 'false revokes every session of the user' }),
    password: PasswordSchema.optional().openapi({ description: 'A new password revokes every session of the user' }),
    audiences: GrantListSchema.optional(),
    scopes: GrantListSchema.optional(),
    roles: GrantListSchema.optional(),
  })
  .strict()
  .refine((patch) => Object.values(patch).some((v) => v !== undefined), 'at least one field to change')
  .openapi('UpdateUser')


const UsernameParamSchema = z.object({ username: UsernameSchema.openapi({ param: { name: 'username', in: 'path' } }) })

/** The admin API's wire shape of a user: snake_case, ISO dates, never the password hash. */
function toUserBody(user: UserRecord): z.infer<typeof UserSchema> {
  const view = toUserView(user)
  return {
    id: view.id,
    username: view.username,
    enabled: view.enabled,
    has_password: view.hasPassword,
    audiences: view.audiences,
    scopes: view.scopes,
    roles: view.roles,
    not_before: view.notBefore?.toISOString() ?? null,
    created_at: view.createdAt.toISOString(),
    updated_at: view.updatedAt.toISOString(),
  }
}

/**
 * `/admin/users`: create, read, search and change users (Bearer ADMIN_TOKEN).
 * Every change lands in the audit trail and reaches the user's sessions (see changeUser).
 */
export function adminUserRoutes({ sql, config, clock }: AppDeps) {
  const router = createRouter()
  const adminOnly = requireAdminToken(config)
  const jsonBody = requireContentType('application/json')

  router.openapi(
    createRoute({
      method: 'post',
      path: '/admin/users',
      summary: 'Create a user',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly, jsonBody] as const,
      request: { body: { required: true, content: { 'application/json': { schema: CreateUserSchema } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: UserSchema } } },
        409: errorResponse('Username taken (`conflict`)'),
        415: errorResponse('Body is not JSON (`invalid_request`)'),
        ...ADMIN_ERRORS,
      },
    }),
    async (c) => {
      const input = c.req.valid('json')
      const user = await createUser(sql, {
        username: input.username,
        passwordHash: await hashPassword(input.password),
        audiences: input.audiences,
        scopes: input.scopes,
        roles: input.roles,
        actor: ADMIN_API_ACTOR,
        now: clock(),
      })
      return c.json(toUserBody(user), 201)
    },
  )

  router.openapi(
    createRoute({
      method: 'get',
      path: '/admin/users',
      summary: 'List users whose username starts with a prefix',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: {
        query: z.object({
          prefix: z.string().max(200).default(''),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
      },
      responses: {
        200: { description: 'Users, by username', content: { 'application/json': { schema: z.object({ users: z.array(UserSchema) }) } } },
        ...ADMIN_ERRORS,
      },
    }),
    async (c) => {
      const { prefix, limit } = c.req.valid('query')
      const users = await searchUsersByPrefix(sql, prefix, limit)
      return c.json({ users: users.map(toUserBody) }, 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'get',
      path: '/admin/users/{username}',
      summary: 'Show one user',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: { params: UsernameParamSchema },
      responses: { 200: { description: 'The user', content: { 'application/json': { schema: UserSchema } } }, ...ADMIN_ERRORS },
    }),
    async (c) => {
      const { username } = c.req.valid('param')
      const user = await findUserByUsername(sql, username)
      if (!user) throw new NotFound('no user with this username')
      return c.json(toUserBody(user), 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/admin/users/{username}',
      summary: 'Enable/disable a user, change its grants or password',
      description:
        'Disabling a user or setting a new password revokes all of its sessions (reported as `sessions_revoked`). ' +
        'Removing a role, scope or audience takes it from every live session (`sessions_narrowed`) and moves `not_before` ' +
        'past this second, so the edge drops access tokens issued with the old grant; the sessions stay alive and ' +
        'refresh into narrower tokens. Adding a grant does not widen existing sessions: it applies from the next login.',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly, jsonBody] as const,
      request: {
        params: UsernameParamSchema,
        body: { required: true, content: { 'application/json': { schema: UpdateUserSchema } } },
      },
      responses: {
        200: {
          description: 'The updated user',
          content: {
            'application/json': {
              schema: UserSchema.extend({
                sessions_revoked: z.number().int().openapi({ description: 'Sessions revoked by this change (disable, new password)' }),
                sessions_narrowed: z.number().int().openapi({ description: 'Live sessions that lost a grant this change removed' }),
              }),
            },
          },
        },
        415: errorResponse('Body is not JSON (`invalid_request`)'),
        ...ADMIN_ERRORS,
      },
    }),
    async (c) => {
      const { username } = c.req.valid('param')
      const patch = c.req.valid('json')
      const passwordHash = patch.password === undefined ? undefined : await hashPassword(patch.password)
      const result = await changeUser(sql, {
        username,
        patch: { enabled: patch.enabled, audiences: patch.audiences, scopes: patch.scopes, roles: patch.roles, passwordHash },
        actor: ADMIN_API_ACTOR,
        clock,
      })
      if (!result) throw new NotFound('no user with this username')
      return c.json({ ...toUserBody(result.user), sessions_revoked: result.sessionsRevoked, sessions_narrowed: result.sessionsNarrowed }, 200)
    },
  )

  return router
}
