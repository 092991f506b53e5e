import { z } from '@hono/zod-openapi'
import type { JSONWebKeySet } from 'jose'
import { InvalidRequest } from '../../shared/errors'
import { DEFAULT_CLIENT_ID } from '../sessions/default-client'
import {
  CLIENT_GRANT_TYPES,
  CLIENT_TYPES,
  TOKEN_ENDPOINT_AUTH_METHODS,
  type ClientGrantType,
  type ClientRecord,
  type ClientType,
  type TokenEndpointAuthMethod,
} from './client-record'

// The admin API's request bodies for clients, in RFC 7591 §2 names (snake_case), and their
// conversion to the domain's shapes. Rules that span fields are checked here, so the admin API
// answers 400 naming the rule before the database's CHECK constraints would refuse the row.

/**
 * Letters, digits and `._~-`, not UUID-shaped: a client-credentials token's `sub` is the client id
 * and user ids are UUIDs, so a client can never pass for a user (or match a user's revocation).
 */
const CLIENT_ID_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const ClientIdSchema = z
  .string()
  .regex(CLIENT_ID_SHAPE, 'letters, digits and ._~- (up to 128), starting with a letter or digit')
  .refine((id) => !UUID_SHAPE.test(id), 'must not be a UUID (user ids are UUIDs)')

/**
 * Ids central uses for implicit clients (the `web` client of browser and federated sign-ins). A
 * registered client of that name would share its `client_id` claim, so its not-before marker
 * (secret rotated, client disabled) would end every such session's access tokens at the edge.
 */
export const RESERVED_CLIENT_IDS: readonly string[] = [DEFAULT_CLIENT_ID]

/** A client id an admin may register: `ClientIdSchema`, and not one central uses implicitly. */
export const RegisteredClientIdSchema = ClientIdSchema.refine(
  (id) => !RESERVED_CLIENT_IDS.includes(id),
  `is reserved for central's implicit clients (${RESERVED_CLIENT_IDS.join(', ')})`,
)

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`. */
const ScopeTokenSchema = z.string().min(1).max(200).regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'printable ASCII without space, " or \\')
const grantList = <T extends z.ZodType<string>>(item: T) => z.array(item).max(100).transform((list) => [...new Set(list)])

/** RFC 7518 §6: members only a private or symmetric key has. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

/** One public verification key of the client (RFC 7517 §4); asymmetric key types only. */
const ClientJwkSchema = z
  .object({
    kty: z.enum(['EC', 'OKP', 'RSA']),
    kid: z.string().min(1).max(200).optional(),
    alg: z.string().optional(),
    use: z.literal('sig').optional(),
  })
  .passthrough()
  .refine((jwk) => !PRIVATE_JWK_MEMBERS.some((name) => Object.hasOwn(jwk, name)), 'must be a public key (no d, p, q, k, …)')

export const ClientJwksSchema = z.object({ keys: z.array(ClientJwkSchema).min(1).max(10) }).openapi('ClientJwks')

/** Where the client publishes its keys: https, or http on a loopback host for local development. */
const JwksUriSchema = z
  .url()
  .max(2000)
  .refine((value) => {
    const url = new URL(value)
    return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname))
  }, 'must be an https URL')

const TtlSchema = z.number().int().min(1).max(86_400)

export const CreateClientBodySchema = z
  .object({
    client_id: RegisteredClientIdSchema,
    /** Follows from the method when absent: `none` is public, the others confidential. */
    client_type: z.enum(CLIENT_TYPES).optional(),
    token_endpoint_auth_method: z.enum(TOKEN_ENDPOINT_AUTH_METHODS),
    jwks: ClientJwksSchema.optional(),
    jwks_uri: JwksUriSchema.optional(),
    grant_types: grantList(z.enum(CLIENT_GRANT_TYPES)),
    audiences: grantList(ScopeTokenSchema.max(2000)).default([]),
    scopes: grantList(ScopeTokenSchema).default([]),
    roles: grantList(ScopeTokenSchema).default([]),
    access_token_ttl_seconds: TtlSchema.nullable().default(null),
    require_dpop: z.boolean().default(false),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((body, ctx) => {
    const type = body.client_type ?? defaultClientType(body.token_endpoint_auth_method)
    for (const issue of clientShapeIssues({ type, method: body.token_endpoint_auth_method, jwks: body.jwks, jwksUri: body.jwks_uri, grantTypes: body.grant_types })) {
      ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message })
    }
  })
  .openapi('CreateClientRequest')

/** Type and authentication method are fixed at creation: changing them is a new client. */
export const UpdateClientBodySchema = z
  .object({
    jwks: ClientJwksSchema.nullable().optional(),
    jwks_uri: JwksUriSchema.nullable().optional(),
    grant_types: grantList(z.enum(CLIENT_GRANT_TYPES)).optional(),
    audiences: grantList(ScopeTokenSchema.max(2000)).optional(),
    scopes: grantList(ScopeTokenSchema).optional(),
    roles: grantList(ScopeTokenSchema).optional(),
    access_token_ttl_seconds: TtlSchema.nullable().optional(),
    require_dpop: z.boolean().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('UpdateClientRequest')

export type CreateClientBody = z.infer<typeof CreateClientBodySchema>
export type UpdateClientBody = z.infer<typeof UpdateClientBodySchema>

/**
 * What `createClient` stores: the record less what the store keeps itself (the secret, generated
 * there when the method needs one, the not-before marker and the timestamps).
 */
export type NewClient = Omit<ClientRecord, 'secretHash' | 'secretRotatedAt' | 'notBefore' | 'createdAt' | 'updatedAt'>

/** The fields an update may change (type and method are fixed); undefined leaves a field as it is. */
export type ClientPatch = Partial<Omit<NewClient, 'clientId' | 'type' | 'tokenEndpointAuthMethod'>>

export function defaultClientType(method: TokenEndpointAuthMethod): ClientType {
  return method === 'none' ? 'public' : 'confidential'
}

export function toNewClient(body: CreateClientBody): NewClient {
  return {
    clientId: body.client_id,
    type: body.client_type ?? defaultClientType(body.token_endpoint_auth_method),
    tokenEndpointAuthMethod: body.token_endpoint_auth_method,
    jwks: (body.jwks as JSONWebKeySet | undefined) ?? null,
    jwksUri: body.jwks_uri ?? null,
    grantTypes: body.grant_types,
    audiences: body.audiences,
    scopes: body.scopes,
    roles: body.roles,
    accessTokenTtlSeconds: body.access_token_ttl_seconds,
    requireDpop: body.require_dpop,
    enabled: body.enabled,
  }
}

export function toClientPatch(body: UpdateClientBody): ClientPatch {
  const patch: ClientPatch = {}
  if (body.jwks !== undefined) patch.jwks = body.jwks as JSONWebKeySet | null
  if (body.jwks_uri !== undefined) patch.jwksUri = body.jwks_uri
  if (body.grant_types !== undefined) patch.grantTypes = body.grant_types
  if (body.audiences !== undefined) patch.audiences = body.audiences
  if (body.scopes !== undefined) patch.scopes = body.scopes
  if (body.roles !== undefined) patch.roles = body.roles
  if (body.access_token_ttl_seconds !== undefined) patch.accessTokenTtlSeconds = body.access_token_ttl_seconds
  if (body.require_dpop !== undefined) patch.requireDpop = body.require_dpop
  if (body.enabled !== undefined) patch.enabled = body.enabled
  return patch
}

interface ClientShape {
  type: ClientType
  method: TokenEndpointAuthMethod
  jwks: unknown
  jwksUri: string | null | undefined
  grantTypes: readonly ClientGrantType[]
}

/** The rules that span fields, as the table's CHECK constraints state them. */
function clientShapeIssues(shape: ClientShape): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = []
  if ((shape.type === 'public') !== (shape.method === 'none')) {
    issues.push({ path: 'client_type', message: 'a public client authenticates with none; a confidential one with a secret or private_key_jwt' })
  }
  const hasJwks = shape.jwks !== undefined && shape.jwks !== null
  const hasJwksUri = shape.jwksUri !== undefined && shape.jwksUri !== null
  if (shape.method === 'private_key_jwt' && hasJwks === hasJwksUri) {
    issues.push({ path: 'jwks', message: 'private_key_jwt needs exactly one of jwks and jwks_uri' })
  }
  if (shape.method !== 'private_key_jwt' && (hasJwks || hasJwksUri)) {
    issues.push({ path: 'jwks', message: 'jwks and jwks_uri are only for private_key_jwt' })
  }
  // RFC 6749 §4.4: the client credentials grant MUST only be used by confidential clients.
  if (shape.grantTypes.includes('client_credentials') && shape.type !== 'confidential') {
    issues.push({ path: 'grant_types', message: 'client_credentials is for confidential clients only' })
  }
  return issues
}

/**
 * The client after `patch`, or `InvalidRequest` naming the first rule it would break (keys for a
 * secret client, client_credentials for a public one, a private_key_jwt client left without keys).
 */
export function applyClientPatch(client: ClientRecord, patch: ClientPatch): ClientRecord {
  const next: ClientRecord = { ...client }
  for (const [name, value] of Object.entries(patch)) {
    if (value !== undefined) (next as unknown as Record<string, unknown>)[name] = value
  }
  // Switching between inline keys and a URL: setting one clears the other unless both were given.
  if (patch.jwks != null && patch.jwksUri === undefined) next.jwksUri = null
  if (patch.jwksUri != null && patch.jwks === undefined) next.jwks = null
  const [issue] = clientShapeIssues({ type: next.type, method: next.tokenEndpointAuthMethod, jwks: next.jwks, jwksUri: next.jwksUri, grantTypes: next.grantTypes })
  if (issue) throw new InvalidRequest(`${issue.path}: ${issue.message}`)
  return next
}
