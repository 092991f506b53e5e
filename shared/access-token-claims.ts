import { z } from 'zod'

/** RFC 9068 §2.1: the JOSE `typ` header of an access token. */
export const ACCESS_TOKEN_TYPE = 'at+jwt'

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
  /**
   * RFC 9449 §6.1: the token is bound to the key with this RFC 7638 thumbprint; it is used only with
   * a DPoP proof signed by that key. A `cnf` without `jkt` is refused: a binding that cannot be
   * checked must not pass as a bearer token.
   */
  cnf: z.object({ jkt: z.string().min(1) }).optional(),
})

export type AccessTokenClaims = z.infer<typeof AccessTokenClaimsSchema>

/**
 * `AccessTokenClaimsSchema`, checked by hand: workerd forbids `new Function`, so zod runs interpreted
 * there, too slow for a check made on every token. test/shared/access-token-claims.test.ts holds the
 * two to the same answers; change them together.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export function readAccessTokenClaims(payload: unknown): AccessTokenClaims | undefined {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return undefined
  const { iss, sub, aud, exp, iat, nbf, jti, client_id, scope, sid, roles, cnf } = payload as Record<string, unknown>
  if (!isText(iss) || !isText(sub) || !isText(jti) || !isText(client_id) || !isText(sid)) return undefined
  if (!isInteger(exp) || !isInteger(iat) || (nbf !== undefined && !isInteger(nbf))) return undefined
  if (!(isText(aud) || (Array.isArray(aud) && aud.length > 0 && aud.every(isText)))) return undefined
  if (scope !== undefined && typeof scope !== 'string') return undefined
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((role) => typeof role === 'string'))) return undefined
  let jkt: string | undefined
  if (cnf !== undefined) {
    if (!cnf || typeof cnf !== 'object' || Array.isArray(cnf)) return undefined
    jkt = (cnf as { jkt?: unknown }).jkt as string
    if (!isText(jkt)) return undefined
  }
  return {
    iss,
    sub,
    aud: aud as string | string[],
    exp,
    iat,
    ...(nbf === undefined ? {} : { nbf: nbf as number }),
    jti,
    client_id,
    scope: scope ?? '',
    sid,
    ...(roles === undefined ? {} : { roles: roles as string[] }),
    ...(jkt === undefined ? {} : { cnf: { jkt } }),
  }
}

const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0
/** zod's `.int()` accepts safe integers only. */
const isInteger = (value: unknown): value is number => Number.isSafeInteger(value)

/**
 * A space-separated list (`scope`, and the list-valued identity headers) as its non-empty items.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
 */
export function splitSpaceSeparated(list: string | undefined): string[] {
  return list ? list.split(' ').filter(Boolean) : []
}

/** `aud` as a list: RFC 7519 §4.1.3 allows a single string. */
export function audienceList(aud: string | string[]): string[] {
  return Array.isArray(aud) ? aud : [aud]
}
