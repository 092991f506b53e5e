import { audienceList, splitSpaceSeparated, type AccessTokenClaims } from './access-token-claims'
import { clientTypeOf, DEFAULT_IDENTITY_HEADER_PREFIX, IDENTITY_HEADER_NAMES as NAMES, type ClientType, type SenderConstraint } from './identity-headers'

/**
 * The caller of an origin API, as the edge verified it. Business logic asks `can('orders:write')`
 * or `hasRole('support')` and never parses a token.
 */
export interface CurrentUser {
  /** Subject: the user's stable, opaque id (RFC 9068 §2.2 `sub`). */
  readonly sub: string
  /** Session (refresh-token chain) the token belongs to. */
  readonly sid: string
  readonly scopes: readonly string[]
  readonly audiences: readonly string[]
  readonly roles: readonly string[]
  readonly clientId: string | undefined
  /** Token id, handy for correlating logs with the edge. */
  readonly jti: string | undefined
  /** `machine` for a client calling for itself (client credentials, `sub` = client id), else `user`. */
  readonly clientType: ClientType
  /** `dpop` when the edge checked a DPoP proof of possession for this request (RFC 9449); else undefined. */
  readonly senderConstrained: SenderConstraint | undefined
  /** Whether the token grants `scope` (RFC 6749 §3.3). */
  can(scope: string): boolean
  hasRole(role: string): boolean
}

/** Fetch `Headers`, or Node's `IncomingHttpHeaders` (lower-case keys). */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>

/**
 * Reads the identity headers the edge sets (`X-Portcullis-Sub`, `-Sid`, `-Scope`, `-Aud`, `-Roles`,
 * `-Client-Id`, `-Jti`). Returns `null` when there is no identity (a public route). Only trust
 * these headers on an origin that the edge alone can reach: the edge strips any the client sent,
 * but a request that bypasses the edge can carry anything.
 * @see ../README.md#identity-headers
 */
export function currentUserFromHeaders(headers: HeaderSource, options: { prefix?: string } = {}): CurrentUser | null {
  const prefix = (options.prefix ?? DEFAULT_IDENTITY_HEADER_PREFIX).toLowerCase()
  const read = (suffix: string): string | undefined => {
    const name = `${prefix}${suffix.toLowerCase()}`
    if (headers instanceof Headers) return headers.get(name) ?? undefined
    const value = headers[name]
    return Array.isArray(value) ? value.join(' ') : value
  }
  const sub = read(NAMES.sub)
  const sid = read(NAMES.sid)
  if (!sub || !sid) return null
  return createCurrentUser({
    sub,
    sid,
    scopes: splitSpaceSeparated(read(NAMES.scope)),
    audiences: splitSpaceSeparated(read(NAMES.aud)),
    roles: splitSpaceSeparated(read(NAMES.roles)),
    clientId: read(NAMES.clientId) || undefined,
    jti: read(NAMES.jti) || undefined,
    clientType: read(NAMES.clientType) === 'machine' ? 'machine' : 'user',
    senderConstrained: read(NAMES.senderConstrained) === 'dpop' ? 'dpop' : undefined,
  })
}

/** A `CurrentUser` from verified access-token claims (the re-verify path, or tests). */
export function currentUserFromClaims(claims: AccessTokenClaims): CurrentUser {
  return createCurrentUser({
    sub: claims.sub,
    sid: claims.sid,
    scopes: splitSpaceSeparated(claims.scope),
    audiences: audienceList(claims.aud),
    roles: claims.roles ?? [],
    clientId: claims.client_id,
    jti: claims.jti,
    clientType: clientTypeOf(claims),
    // Claims alone prove nothing about the request: only a checked proof makes it sender-constrained.
    senderConstrained: undefined,
  })
}

function createCurrentUser(fields: Omit<CurrentUser, 'can' | 'hasRole'>): CurrentUser {
  const scopes = new Set(fields.scopes)
  const roles = new Set(fields.roles)
  return Object.freeze({
    ...fields,
    scopes: Object.freeze([...fields.scopes]),
    audiences: Object.freeze([...fields.audiences]),
    roles: Object.freeze([...fields.roles]),
    can: (scope: string) => scopes.has(scope),
    hasRole: (role: string) => roles.has(role),
  })
}
