import { createRoute, z } from '@hono/zod-openapi'
import { InvalidRequest } from '../../../shared/errors'
import type { AppDeps } from '../../app-deps'
import { listSigningKeys, rotateSigningKey } from '../../tokens/signing-keys'
import { createRouter } from '../create-router'
import { ADMIN_API_ACTOR, requireAdminToken } from '../require-admin-token'
import { ADMIN_ERRORS, ADMIN_SECURITY, errorResponse, json } from '../wire-schemas'

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

/** `/admin/keys`: list the signing keys, rotate them (scheduled, or at once after a leak). */
export function adminKeyRoutes(deps: AppDeps) {
  const router = createRouter()
  const { sql, config } = deps
  const admin = requireAdminToken(config)

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

  return router
}
