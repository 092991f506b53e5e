import { InsufficientScope, InvalidToken } from '../shared/errors'
import type { Route } from './routes'
import type { VerifiedToken } from './verified-token'

/**
 * Decides whether verified claims may use a protected route: the route's audience must be in
 * `aud` (RFC 9068 §4: otherwise the token is not meant for this resource → `invalid_token`), every
 * required scope must be granted (RFC 6750 §3.1 `insufficient_scope`, naming the scope), and at
 * least one required role must be held when the route lists roles.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function authorizeRequest(route: Route, token: VerifiedToken): void {
  if (route.audience && !token.audiences.includes(route.audience)) {
    throw new InvalidToken("token audience does not include this route's audience", { reason: 'audience_mismatch', claim: 'aud' })
  }
  const missing = route.scopes.find((scope) => !token.scopes.has(scope))
  if (missing !== undefined) {
    throw new InsufficientScope(`token lacks the scope ${missing}`, route.scopes.join(' '))
  }
  if (route.roles.length > 0 && !route.roles.some((role) => token.claims.roles?.includes(role))) {
    throw new InsufficientScope(`token lacks a required role (one of: ${route.roles.join(', ')})`)
  }
}
