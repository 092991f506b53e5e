import { audienceList, splitSpaceSeparated, type AccessTokenClaims } from '../shared/access-token-claims'
import { clientTypeOf, type ForwardedIdentity } from '../shared/identity-headers'

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

/** Works out what the request path needs from verified claims, once per token. */
export function toVerifiedToken(claims: AccessTokenClaims, kid: string): VerifiedToken {
  const scopes = splitSpaceSeparated(claims.scope)
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
      clientType: clientTypeOf(claims),
      // A bound token only gets past the edge with a valid proof (worker step 3b), so this holds whenever it is forwarded.
      senderConstrained: claims.cnf ? 'dpop' : undefined,
    },
  }
}
