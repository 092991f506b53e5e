import { audienceList, parseScope, type AccessTokenClaims } from '../shared/access-token-claims'

/**
 * The identity an origin receives, as header values: what the `<prefix>Sub`, `-Sid`, `-Scope`,
 * `-Aud`, `-Client-Id`, `-Jti` and `-Roles` headers carry (README "Identity headers").
 */
export interface ForwardedIdentity {
  sub: string
  sid: string
  /** Granted scopes, space-separated (RFC 6749 §3.3), without empty entries. */
  scope: string
  /** Audiences, space-separated. */
  aud: string
  clientId: string
  jti: string
  /** Roles, space-separated; undefined when the token has none (the header is then not sent). */
  roles: string | undefined
}

/**
 * A token whose signature and immutable claims were checked, with everything the request path
 * derives from those claims worked out once. A cached token is sent many times, so its scope set and
 * identity header values are built at verification, not on every request.
 */
export interface VerifiedToken {
  claims: AccessTokenClaims
  /** Key that signed it; the cache drops the token when that key leaves the JWKS. */
  kid: string
  /** For the route's scope check. */
  scopes: ReadonlySet<string>
  /** For the route's audience check (RFC 9068 §4). */
  audiences: readonly string[]
  identity: ForwardedIdentity
}

export function toVerifiedToken(claims: AccessTokenClaims, kid: string): VerifiedToken {
  const scopes = parseScope(claims.scope)
  const audiences = audienceList(claims.aud)
  return {
    claims,
    kid,
    scopes: new Set(scopes),
    audiences,
    identity: {
      sub: claims.sub,
      sid: claims.sid,
      scope: scopes.join(' '),
      aud: audiences.join(' '),
      clientId: claims.client_id,
      jti: claims.jti,
      roles: claims.roles && claims.roles.length > 0 ? claims.roles.join(' ') : undefined,
    },
  }
}
