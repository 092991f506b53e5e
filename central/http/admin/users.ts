import { createRoute, z } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import { InvalidRequest, NotFound } from '../../../shared/errors'
import type { AppDeps } from '../../app-deps'
import { listLinkedIdentities, unlinkIdentity, type LinkedIdentity } from '../../federation/linked-identities'
import { changeUser } from '../../users/change-user'
import { contradictoryValues, type GrantChange, type PartialGrant } from '../../users/grant-change'
import { hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../users/passwords'
import { createUser, findUserByUsername, searchUsersByPrefix } from '../../users/store'
import { unlockUser } from '../../users/unlock-user'
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

const LinkedIdentitySchema = z
  .object({
    provider: z.string().openapi({ description: 'Id of the provider (IDENTITY_PROVIDERS) the identity was linked through' }),
    issuer: z.string(),
    subject: z.string().openapi({ description: 'The provider\'s `sub` for this person' }),
    email: z.string().nullable().openapi({ description: 'The email the provider last asserted, if any' }),
    linked_at: z.string(),
    last_used_at: z.string(),
  })
  .openapi('LinkedIdentity')

const UserWithIdentitiesSchema = UserSchema.extend({
  identities: z.array(LinkedIdentitySchema).openapi({ description: 'Upstream provider identities that sign in as this user, oldest first' }),
}).openapi('UserWithIdentities')

/** Query, not path: an issuer is a URL, and its slashes would not survive as a path segment. */
const IdentityQuerySchema = z.object({
  issuer: z.string().min(1).max(2000),
  subject: z.string().min(1).max(2000),
})

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

const GrantListsSchema = z
  .object({ audiences: GrantListSchema.optional(), scopes: GrantListSchema.optional(), roles: GrantListSchema.optional() })
  .strict()

const GrantChangeSchema = GrantListsSchema.openapi('GrantLists', { description: 'Any of audiences, scopes, roles; a list left out is not touched' })

/** The form that once replaced whole lists silently; refused with a pointer to the explicit one. */
const RETIRED_GRANT_FIELDS = ['audiences', 'scopes', 'roles'] as const

const UpdateUserSchema = z
  .object({
    enabled: z.boolean().optional().openapi({ description: 'false revokes every session of the user' }),
    password: PasswordSchema.optional().openapi({ description: 'A new password revokes every session of the user' }),
    add: GrantChangeSchema.optional().openapi({ description: 'Grant values to add; values already held are left as they are' }),
    remove: GrantChangeSchema.optional().openapi({ description: 'Grant values to remove; values not held are ignored' }),
    replace: GrantChangeSchema.optional().openapi({
      description: 'Replaces each list named here with exactly this one (lists left out stay). Not with add/remove.',
    }),
  })
  .strict()
  .superRefine((patch, ctx) => {
    if (patch.replace && (patch.add || patch.remove)) {
      ctx.addIssue({ code: 'custom', path: ['replace'], message: 'use either replace or add/remove, not both' })
    }
    const change = grantChangeOf(patch)
    const both = change ? contradictoryValues(change) : []
    if (both.length) ctx.addIssue({ code: 'custom', path: ['remove'], message: `both added and removed: ${both.join(', ')}` })
    if (![patch.enabled, patch.password, patch.add, patch.remove, patch.replace].some((v) => v !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'at least one field to change' })
    }
  })
  .openapi('UpdateUser')

const GrantDiffSchema = z
  .object({ audiences: z.array(z.string()), scopes: z.array(z.string()), roles: z.array(z.string()) })
  .openapi('GrantValues')

/** The explicit grant change a PATCH body asks for, if any. */
function grantChangeOf(patch: { add?: PartialGrant; remove?: PartialGrant; replace?: PartialGrant }): GrantChange | undefined {
  if (patch.replace) return { kind: 'replace', grant: patch.replace }
  if (patch.add || patch.remove) return { kind: 'edit', add: patch.add ?? {}, remove: patch.remove ?? {} }
  return undefined
}

/**
 * Refuses the retired top-level `audiences`/`scopes`/`roles`, before the schema's generic
 * "unrecognized key": it once replaced whole lists and silently took every other value away
 * (`{"roles": ["admin"]}` removed `portcullis:admin`). A 400 that shows the explicit form is
 * louder than a replacement whose response a script never reads.
 */
const refuseRetiredGrantFields: MiddlewareHandler = async (c, next) => {
  const body: unknown = await c.req.json().catch(() => undefined)
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const retired = RETIRED_GRANT_FIELDS.filter((field) => field in body)
    if (retired.length) {
      const example = JSON.stringify({ add: { [retired[0]!]: ['…'] } })
      throw new InvalidRequest(
        `top-level ${retired.join(', ')} are no longer accepted (they replaced whole lists): ` +
          `use add/remove (e.g. ${example}), or replace to set a whole list on purpose`,
      )
    }
  }
  await next()
}

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

function toIdentityBody(identity: LinkedIdentity): z.infer<typeof LinkedIdentitySchema> {
  return {
    provider: identity.providerId,
    issuer: identity.issuer,
    subject: identity.subject,
    email: identity.email,
    linked_at: identity.createdAt.toISOString(),
    last_used_at: identity.lastUsedAt.toISOString(),
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
      summary: 'Show one user, with its linked provider identities',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: { params: UsernameParamSchema },
      responses: { 200: { description: 'The user', content: { 'application/json': { schema: UserWithIdentitiesSchema } } }, ...ADMIN_ERRORS },
    }),
    async (c) => {
      const { username } = c.req.valid('param')
      const user = await findUserByUsername(sql, username)
      if (!user) throw new NotFound('no user with this username')
      const identities = await listLinkedIdentities(sql, user.id)
      return c.json({ ...toUserBody(user), identities: identities.map(toIdentityBody) }, 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/admin/users/{username}/identities',
      summary: 'Unlink a provider identity from a user',
      description:
        'Removes the link `(issuer, subject) → user`, audited as `user.updated` with `identity_unlinked`. The user\'s ' +
        'sessions stay (revoke them separately); the next sign-in through that identity is treated as a first one, ' +
        'by the provider\'s rules (a new user just in time, a link by email, or a refusal).',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: { params: UsernameParamSchema, query: IdentityQuerySchema },
      responses: { 204: { description: 'Unlinked' }, ...ADMIN_ERRORS },
    }),
    async (c) => {
      const { username } = c.req.valid('param')
      const { issuer, subject } = c.req.valid('query')
      const user = await findUserByUsername(sql, username)
      if (!user) throw new NotFound('no user with this username')
      const unlinked = await unlinkIdentity(sql, { userId: user.id, issuer, subject, actor: ADMIN_API_ACTOR, now: clock() })
      if (!unlinked) throw new NotFound('the user has no identity with this issuer and subject')
      return c.body(null, 204)
    },
  )

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/admin/users/{username}',
      summary: 'Enable/disable a user, add or remove grants, set a password',
      description: [
        'Grants change only by explicit operations: `add` and `remove` name the values, e.g.',
        '`{"add": {"scopes": ["orders:write"]}, "remove": {"roles": ["support"]}}`, and leave every other value alone.',
        '`replace` sets whole lists on purpose (`{"replace": {"roles": []}}`); it cannot be combined with add/remove.',
        'The response says what the change did: `added` and `removed` (empty lists when nothing). The former top-level',
        '`audiences`/`scopes`/`roles` (which replaced whole lists) are refused with 400.',
        '',
        'Disabling a user or setting a new password revokes all of its sessions (`sessions_revoked`). Removing a role,',
        'scope or audience takes it from every live session (`sessions_narrowed`) and moves `not_before` past this',
        'second, so the edge drops access tokens issued with the old grant; the sessions stay alive and refresh into',
        'narrower tokens. Adding a grant does not widen existing sessions: it applies from the next login.',
        '',
        'A change that would leave no enabled user holding `portcullis:admin` (removing the role from, or disabling,',
        'the last admin) is refused with 409 `conflict` and changes nothing.',
      ].join('\n'),
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly, jsonBody, refuseRetiredGrantFields] as const,
      request: {
        params: UsernameParamSchema,
        body: { required: true, content: { 'application/json': { schema: UpdateUserSchema } } },
      },
      responses: {
        200: {
          description: 'The updated user, and what the change did',
          content: {
            'application/json': {
              schema: UserSchema.extend({
                added: GrantDiffSchema.openapi({ description: 'Grant values the user holds now and did not before' }),
                removed: GrantDiffSchema.openapi({ description: 'Grant values the user held before and no longer does' }),
                sessions_revoked: z.number().int().openapi({ description: 'Sessions revoked by this change (disable, new password)' }),
                sessions_narrowed: z.number().int().openapi({ description: 'Live sessions that lost a grant this change removed' }),
              }),
            },
          },
        },
        409: errorResponse('The change would leave no enabled user with portcullis:admin (`conflict`)'),
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
        patch: { enabled: patch.enabled, grantChange: grantChangeOf(patch), passwordHash },
        actor: ADMIN_API_ACTOR,
        clock,
      })
      if (!result) throw new NotFound('no user with this username')
      return c.json(
        {
          ...toUserBody(result.user),
          added: result.grantDiff.added,
          removed: result.grantDiff.removed,
          sessions_revoked: result.sessionsRevoked,
          sessions_narrowed: result.sessionsNarrowed,
        },
        200,
      )
    },
  )

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/admin/users/{username}/login-failures',
      summary: 'Unlock a user: clear its failed-login counts',
      description:
        'Clears the failed logins counted against this username (the per-username ceiling and the per-address counts), ' +
        'so its owner can sign in again at once instead of waiting for LOGIN_THROTTLE_WINDOW_SECONDS to pass. ' +
        'Counts of the addresses themselves stay. Audited as `user.unlocked`.',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: { params: UsernameParamSchema },
      responses: {
        200: {
          description: 'Unlocked',
          content: {
            'application/json': {
              schema: z.object({ cleared: z.number().int().openapi({ description: 'Failed-login counters deleted (0: there were none)' }) }),
            },
          },
        },
        ...ADMIN_ERRORS,
      },
    }),
    async (c) => {
      const { username } = c.req.valid('param')
      const result = await unlockUser(sql, { username, actor: ADMIN_API_ACTOR, now: clock() })
      if (!result) throw new NotFound('no user with this username')
      return c.json({ cleared: result.cleared }, 200)
    },
  )

  return router
}
