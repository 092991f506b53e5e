import { z } from 'zod'

/** RFC 9068 §2.1: the JOSE `typ` header of an access token. */
export const ACCESS_TOKEN_TYPE = 'at+jwt'

/** Algorithms the edge accepts. Asymmetric only: the edge holds no secret that could mint. */
export const ACCESS_TOKEN_ALGORITHMS = ['ES256', 'EdDSA'] as const

/** Role that lets a user sign in to the ops console. */
export const ADMIN_ROLE = 'portcullis:admin'

/**
 * RFC 9068 §2.2 claims portcullis puts in every access token, plus `sid` (the session, i.e.
 * the refresh-token chain) and `roles` when the user has any. No personal data.
 * `scope` is space-separated (RFC 6749 §3.3); `aud` is always an array here.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export const AccessTokenClaimsSchema = z.object({
  iss: z.string().min(1),
  sub: z.string().min(1),
  aud: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  exp: z.number().int(),
  iat: z.number().int(),
  nbf: z.number().int().optional(),
  jti: z.string().min(1),
  client_id: z.string().min(1),
  scope: z.string().default(''),
  sid: z.string().min(1),
  roles: z.array(z.string()).optional(),
})

export type AccessTokenClaims = z.infer<typeof AccessTokenClaimsSchema>

/** `scope` claim → list of scopes (RFC 6749 §3.3: space-delimited). */
export function parseScope(scope: string | undefined): string[] {
  return scope ? scope.split(' ').filter(Boolean) : []
}

export function audienceList(aud: string | string[]): string[] {
  return Array.isArray(aud) ? aud : [aud]
}
