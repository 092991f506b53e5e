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

/**
 * The `sid` of a client-credentials token. Every access token carries one (the edge's rules
 * require it) but a machine client has no session: this stable value names the client instead.
 * Session ids are UUIDs central chooses, so no person's token can carry this `sid`.
 */
export const clientSessionId = (clientId: string) => `client:${clientId}`

/**
 * A token is a machine client's when its `sid` is the one only central's client-credentials grant
 * mints (`clientSessionId`). Not `sub === client_id` (RFC 9068 §2.2 for client credentials):
 * a person's login names its client, so a person could name their own id and pass as a machine.
 */
export function clientTypeOf(claims: { sid: string; client_id: string }): ClientType {
  return claims.sid === clientSessionId(claims.client_id) ? 'machine' : 'user'
}
