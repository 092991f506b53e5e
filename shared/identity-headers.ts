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
} as const

export type IdentityField = keyof typeof IDENTITY_HEADER_NAMES

/**
 * The identity an origin receives, as header values. Lists (`scope`, `aud`, `roles`) are
 * space-separated (RFC 6749 §3.3 for scopes); a field that is undefined is not sent.
 */
export type ForwardedIdentity = Record<Exclude<IdentityField, 'roles'>, string> & { roles: string | undefined }
