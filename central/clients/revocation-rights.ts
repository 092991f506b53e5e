/** What a token to revoke says about whom it was issued to. */
export interface RevocableToken {
  /** The client the token (its session) was issued to. */
  clientId: string
  /** RFC 7638 thumbprint of the DPoP key the token or its session is bound to; null when unbound. */
  boundJkt: string | null
}

/**
 * Whether the caller of the revocation endpoint may end this token's session: only the client it
 * was issued to (RFC 7009 §2.1: "verifies whether the token was issued to the client making the
 * revocation request"; an implicit client names itself), and for a DPoP-bound token only with a
 * valid proof by the bound key (RFC 9449 §5: a bound token alone proves nothing). Anyone else is
 * answered as for an invalid token (RFC 7009 §2.2), revoking nothing.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export function mayRevokeToken(token: RevocableToken, caller: { clientId: string; proofJkt: string | undefined }): boolean {
  if (caller.clientId !== token.clientId) return false
  return token.boundJkt === null || caller.proofJkt === token.boundJkt
}
