import { z } from '@hono/zod-openapi'
import type { ClientView } from '../clients/client-record'
import type { SessionView } from '../sessions/session-record'

// The HTTP wire shapes shared by several route files (RFC names, snake_case): each route file
// imports them from here, never from another route file, and the OpenAPI document is built from them.

export const ErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() }).openapi('OAuthError')
export const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } })

export const TokenResponseSchema = z
  .object({
    access_token: z.string().optional().openapi({ description: 'Absent in cookie mode (then in the portcullis_at cookie)' }),
    token_type: z.enum(['Bearer', 'DPoP']).openapi({ description: 'DPoP: the access token is bound to the key of the request\'s DPoP proof (RFC 9449 §5)' }),
    expires_in: z.number().int(),
    refresh_token: z.string().optional().openapi({ description: 'Absent in cookie mode (then in the portcullis_rt cookie), and for client_credentials' }),
    scope: z.string(),
  })
  .openapi('TokenResponse')

/** RFC 6749 §3.3 scope-token / client_id characters: printable ASCII without space, `"` or `\`. */
export const TokenCharsSchema = z.string().min(1).max(200).regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'printable ASCII without space, " or \\')

export const SessionSchema = z
  .object({
    id: z.string(),
    created_at: z.string(),
    last_used_at: z.string(),
    user_agent: z.string().nullable(),
    ip: z.string().nullable(),
    client_id: z.string(),
    audiences: z.array(z.string()),
    scopes: z.array(z.string()),
    state: z.enum(['active', 'revoked', 'expired']),
    revoked_at: z.string().nullable(),
    revoked_reason: z.string().nullable(),
    provider: z.string().nullable().openapi({ description: 'Id of the upstream provider the session was signed in through; null for password and admin-started sessions' }),
    current: z.boolean().optional(),
  })
  .openapi('Session')

/** Wire shape of a session (RFC-style snake_case at the HTTP boundary); `provider` as findProvidersOfSessions gives it. */
export function toSessionJson(s: SessionView, provider: string | null, currentSessionId?: string) {
  return {
    id: s.id,
    created_at: s.createdAt.toISOString(),
    last_used_at: s.lastUsedAt.toISOString(),
    user_agent: s.userAgent,
    ip: s.ip,
    client_id: s.clientId,
    audiences: s.audiences,
    scopes: s.scopes,
    state: s.state,
    revoked_at: s.revokedAt?.toISOString() ?? null,
    revoked_reason: s.revokedReason,
    provider,
    ...(currentSessionId !== undefined ? { current: s.id === currentSessionId } : {}),
  }
}

/** What every admin API route says in the OpenAPI document: it takes the admin Bearer token… */
export const ADMIN_SECURITY = [{ bearerAuth: [] }]

/** …and can answer with these errors (plus its own). */
export const ADMIN_ERRORS = {
  400: errorResponse('Invalid input (`invalid_request`)'),
  401: errorResponse('Missing or wrong admin token (`invalid_token`)'),
  404: errorResponse('Unknown user, session or key, or admin API disabled (`not_found`)'),
  503: errorResponse('Database unavailable (`temporarily_unavailable`)'),
}

/** Usernames travel in URL paths (`/admin/users/:username`), so they stay path-safe. */
export const UsernameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._@+-]+$/, 'letters, digits and . _ @ + - only')
  .openapi({ example: 'alice' })

/** A JSON response of `schema` in a route's `responses`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } })

/** A registered OAuth client on the wire (RFC 7591 §2 names); never its secret or the secret's hash. */
export const ClientSchema = z
  .object({
    client_id: z.string(),
    client_type: z.enum(['public', 'confidential']),
    token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    has_secret: z.boolean(),
    secret_rotated_at: z.string().nullable(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).nullable(),
    jwks_uri: z.string().nullable(),
    grant_types: z.array(z.string()),
    audiences: z.array(z.string()),
    scopes: z.array(z.string()),
    roles: z.array(z.string()),
    access_token_ttl_seconds: z.number().int().nullable(),
    require_dpop: z.boolean(),
    enabled: z.boolean(),
    not_before: z.string().nullable().openapi({ description: 'Access tokens of this client issued before this instant are revoked' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Client')

export function toClientJson(client: ClientView): z.infer<typeof ClientSchema> {
  return {
    client_id: client.clientId,
    client_type: client.type,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    has_secret: client.hasSecret,
    secret_rotated_at: client.secretRotatedAt?.toISOString() ?? null,
    jwks: client.jwks as { keys: Record<string, unknown>[] } | null,
    jwks_uri: client.jwksUri,
    grant_types: client.grantTypes,
    audiences: client.audiences,
    scopes: client.scopes,
    roles: client.roles,
    access_token_ttl_seconds: client.accessTokenTtlSeconds,
    require_dpop: client.requireDpop,
    enabled: client.enabled,
    not_before: client.notBefore?.toISOString() ?? null,
    created_at: client.createdAt.toISOString(),
    updated_at: client.updatedAt.toISOString(),
  }
}
