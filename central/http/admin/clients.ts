import { createRoute, z } from '@hono/zod-openapi'
import { NotFound } from '../../../shared/errors'
import type { AppDeps } from '../../app-deps'
import { toClientView } from '../../clients/client-record'
import { ClientIdSchema, CreateClientBodySchema, toClientPatch, toNewClient, UpdateClientBodySchema } from '../../clients/client-schema'
import { createClient, deleteClient, disableClient, findClient, listClients, rotateClientSecret, updateClient } from '../../clients/store'
import { createRouter } from '../create-router'
import { ADMIN_API_ACTOR, requireAdminToken } from '../require-admin-token'
import { requireContentType } from '../require-content-type'
import { ADMIN_ERRORS, ADMIN_SECURITY, ClientSchema, errorResponse, json, toClientJson } from '../wire-schemas'

const ClientIdParamSchema = z.object({ client_id: ClientIdSchema.openapi({ param: { name: 'client_id', in: 'path' }, example: 'orders-batch' }) })

/** The client and, this once, its secret (RFC 7591 §3.2.1 `client_secret`); central keeps only a hash. */
const ClientWithSecretSchema = z
  .object({ client: ClientSchema, client_secret: z.string().nullable().openapi({ description: 'Shown once; null for a client without a secret' }) })
  .openapi('ClientWithSecret')

const REVOKES_TOKENS =
  'Its access tokens issued before now stop working at every edge within its revocation bound, REVOCATION_TRUST_SECONDS (the client\'s not-before marker moves).'

/**
 * `/admin/clients`: register, list, show, change, rotate the secret of, disable and delete OAuth
 * clients (Bearer ADMIN_TOKEN). Every change is audited (`client.*`).
 */
export function adminClientRoutes({ sql, config, clock }: AppDeps) {
  const router = createRouter()
  const adminOnly = requireAdminToken(config)
  const jsonBody = requireContentType('application/json')

  router.openapi(
    createRoute({
      method: 'post',
      path: '/admin/clients',
      summary: 'Register a client (the secret, for a secret method, is in this answer only)',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly, jsonBody] as const,
      request: { body: { required: true, content: { 'application/json': { schema: CreateClientBodySchema } } } },
      responses: {
        201: json(ClientWithSecretSchema, 'Registered'),
        409: errorResponse('client_id taken (`conflict`), also by a deleted client whose tokens may still be alive'),
        415: errorResponse('Body is not JSON (`invalid_request`)'),
        ...ADMIN_ERRORS,
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const { client, secret } = await createClient(sql, { ...toNewClient(body), actor: ADMIN_API_ACTOR, now: clock() })
      c.header('Cache-Control', 'no-store')
      return c.json({ client: toClientJson(toClientView(client)), client_secret: secret }, 201)
    },
  )

  router.openapi(
    createRoute({
      method: 'get',
      path: '/admin/clients',
      summary: 'List registered clients',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      responses: { 200: json(z.object({ clients: z.array(ClientSchema) }), 'Clients, by client_id'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const clients = await listClients(sql)
      return c.json({ clients: clients.map((client) => toClientJson(toClientView(client))) }, 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'get',
      path: '/admin/clients/{client_id}',
      summary: 'Show one client',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: { params: ClientIdParamSchema },
      responses: { 200: json(ClientSchema, 'The client'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const client = await findClient(sql, c.req.valid('param').client_id)
      if (!client) throw new NotFound('no such client')
      return c.json(toClientJson(toClientView(client)), 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/admin/clients/{client_id}',
      summary: 'Change a client\'s keys, grants, lifetime, DPoP requirement or enabled flag',
      description: `Type and authentication method are fixed. A change that takes something away (an audience, scope, role or grant type removed, DPoP newly required, disabled) revokes the client's tokens: ${REVOKES_TOKENS}`,
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly, jsonBody] as const,
      request: { params: ClientIdParamSchema, body: { required: true, content: { 'application/json': { schema: UpdateClientBodySchema } } } },
      responses: { 200: json(ClientSchema, 'The changed client'), 415: errorResponse('Body is not JSON (`invalid_request`)'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const client = await updateClient(sql, {
        clientId: c.req.valid('param').client_id,
        patch: toClientPatch(c.req.valid('json')),
        actor: ADMIN_API_ACTOR,
        now: clock(),
        clock,
      })
      if (!client) throw new NotFound('no such client')
      return c.json(toClientJson(toClientView(client)), 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'post',
      path: '/admin/clients/{client_id}/rotate-secret',
      summary: 'Replace the client\'s secret (the new one is in this answer only)',
      description: `The old secret stops working at once. ${REVOKES_TOKENS}`,
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: { params: ClientIdParamSchema },
      responses: { 200: json(ClientWithSecretSchema, 'The client and its new secret'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const rotated = await rotateClientSecret(sql, { clientId: c.req.valid('param').client_id, actor: ADMIN_API_ACTOR, now: clock(), clock })
      if (!rotated) throw new NotFound('no such client')
      c.header('Cache-Control', 'no-store')
      return c.json({ client: toClientJson(toClientView(rotated.client)), client_secret: rotated.secret }, 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'post',
      path: '/admin/clients/{client_id}/disable',
      summary: 'Disable a client: it can no longer authenticate',
      description: `${REVOKES_TOKENS} Enable it again with PATCH \`{"enabled": true}\`.`,
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: { params: ClientIdParamSchema },
      responses: { 200: json(ClientSchema, 'The disabled client'), ...ADMIN_ERRORS },
    }),
    async (c) => {
      const client = await disableClient(sql, { clientId: c.req.valid('param').client_id, actor: ADMIN_API_ACTOR, now: clock(), clock })
      if (!client) throw new NotFound('no such client')
      return c.json(toClientJson(toClientView(client)), 200)
    },
  )

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/admin/clients/{client_id}',
      summary: 'Delete a client',
      description: `It stops authenticating and leaves the list; its id stays taken until its last token has expired. ${REVOKES_TOKENS}`,
      tags: ['admin'],
      security: ADMIN_SECURITY,
      middleware: [adminOnly] as const,
      request: { params: ClientIdParamSchema },
      responses: { 204: { description: 'Deleted' }, ...ADMIN_ERRORS },
    }),
    async (c) => {
      const deleted = await deleteClient(sql, { clientId: c.req.valid('param').client_id, actor: ADMIN_API_ACTOR, now: clock(), clock })
      if (!deleted) throw new NotFound('no such client')
      return c.body(null, 204)
    },
  )

  return router
}
