import { InvalidScope, InvalidTarget } from '../../shared/errors'

export interface Grant {
  audiences: string[]
  scopes: string[]
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
