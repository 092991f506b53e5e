/**
 * The identity headers: the contract between the edge, which sets them from verified claims, and
 * an origin's `currentUserFromHeaders`, which reads them. Each is `<prefix><name>`.
 * @see ../README.md#identity-headers
 */
export const DEFAULT_IDENTITY_HEADER_PREFIX = 'X-Portcullis-'

/** Identity field → header name after the prefix. */
export const IDENTITY_HEADER_NAMES = {
  sub: 'Sub',
  sid: 'Sid',
  scope: 'Scope',
  aud: 'Aud',
  clientId: 'Client-Id',
  jti: 'Jti',
  roles: 'Roles',
  /** `machine` when the token's subject is its client (client credentials), else `user`. */
  clientType: 'Client-Type',
  /** `dpop` when the request proved possession of the token's key (RFC 9449); absent for a bearer token. */
  senderConstrained: 'Sender-Constrained',
} as const

export type IdentityField = keyof typeof IDENTITY_HEADER_NAMES

/**
 * The identity an origin receives, as header values. Lists (`scope`, `aud`, `roles`) are
 * space-separated (RFC 6749 §3.3 for scopes); a field that is undefined is not sent.
 */
export type ForwardedIdentity = Record<Exclude<IdentityField, 'roles' | 'clientType' | 'senderConstrained'>, string> & {
  roles: string | undefined
  clientType: ClientType
  senderConstrained: SenderConstraint | undefined
}

/** Who the token speaks for: a person (a session), or a machine client for itself (client credentials). */
export type ClientType = 'user' | 'machine'
/** How the request proved it holds the token; only DPoP (RFC 9449) so far. */
export type SenderConstraint = 'dpop'

/** RFC 9068 §2.2: with no resource owner (client credentials), `sub` is the client's own id. */
export function clientTypeOf(claims: { sub: string; client_id: string }): ClientType {
  return claims.sub === claims.client_id ? 'machine' : 'user'
}
