import { InvalidScope, InvalidTarget } from '../../shared/errors'

export interface Grant {
  audiences: string[]
  scopes: string[]
}

/** Everything a user or a session holds: audiences, scopes and roles. */
export interface FullGrant extends Grant {
  roles: string[]
}

/**
 * What a session may grant now: its own grant less anything its user no longer holds, in the
 * session's order. A session may be narrower than its user, never wider, so removing a role,
 * scope or audience from a user takes it from every session at the next refresh. The reverse
 * does not hold on purpose: a grant ADDED to the user does not reach sessions started before,
 * which keep what they were started with until the user logs in again — an admin change never
 * widens a refresh chain that may already be in someone else's hands.
 */
export function boundByUserGrant(session: FullGrant, user: FullGrant): FullGrant {
  const within = (held: string[], allowed: string[]) => held.filter((g) => allowed.includes(g))
  return {
    audiences: within(session.audiences, user.audiences),
    scopes: within(session.scopes, user.scopes),
    roles: within(session.roles, user.roles),
  }
}

/** The first part of `requested` that holds something outside `held`, or undefined when within. */
export function exceedingGrant(requested: FullGrant, held: FullGrant): keyof FullGrant | undefined {
  const parts = ['audiences', 'scopes', 'roles'] as const
  return parts.find((part) => requested[part].some((g) => !held[part].includes(g)))
}

/**
 * The access token's audiences and scopes for one request. `resource` (RFC 8707 §2) asks for a
 * token for one audience, which must be inside the session's grant (`invalid_target`);
 * `scope` (RFC 6749 §6) may narrow but never widen (`invalid_scope`). The session itself keeps
 * its full grant: narrowing applies to this access token only.
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
export function narrowGrant(granted: Grant, request: { resource?: string; scopes?: string[] }): Grant {
  let audiences = granted.audiences
  if (request.resource !== undefined) {
    if (!granted.audiences.includes(request.resource)) {
      throw new InvalidTarget('requested resource is not among the session\'s audiences')
    }
    audiences = [request.resource]
  }
  let scopes = granted.scopes
  if (request.scopes !== undefined) {
    const outside = request.scopes.filter((s) => !granted.scopes.includes(s))
    if (outside.length > 0) throw new InvalidScope('requested scope exceeds the session\'s grant')
    scopes = [...new Set(request.scopes)]
  }
  return { audiences, scopes }
}
