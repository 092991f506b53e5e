/** What login, refresh and `POST /admin/sessions` hand back (RFC 6749 §5.1, in domain names). */
export interface TokenSet {
  accessToken: string
  refreshToken: string
  expiresIn: number
  /** Space-separated scopes of the access token (RFC 6749 §3.3). */
  scope: string
  sessionId: string
  /** RFC 7638 thumbprint the access token is bound to (`cnf.jkt`, RFC 9449 §6); undefined: a Bearer token. */
  confirmationJkt?: string
}

/**
 * RFC 9449 §5: a token bound to a DPoP key (`cnf.jkt`, RFC 9449 §6.1) is issued as `token_type`
 * `DPoP`, any other as `Bearer`; decided by the thumbprint the access token was minted with.
 */
export function accessTokenType(confirmationJkt: string | undefined): 'Bearer' | 'DPoP' {
  return confirmationJkt === undefined ? 'Bearer' : 'DPoP'
}

/** An access token with no audience is useless at the edge; it is then scoped to central itself. */
export function audiencesOrIssuer(audiences: string[], issuer: string): string[] {
  return audiences.length > 0 ? audiences : [issuer]
}
