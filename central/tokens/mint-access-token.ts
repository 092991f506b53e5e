import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { ACCESS_TOKEN_TYPE } from '../../shared/access-token-claims'
import type { Config } from '../config'
import { SIGNING_ALGORITHM, type SigningKey } from './signing-keys'

export interface AccessTokenGrant {
  userId: string
  sessionId: string
  clientId: string
  audiences: string[]
  scopes: string[]
  roles: string[]
  /** RFC 9449 §6.1: bind the token to this key thumbprint (`cnf.jkt`); undefined for a Bearer token. */
  confirmationJkt?: string
  /** Lifetime; default ACCESS_TOKEN_TTL_SECONDS. Never longer: the revocation feed reaches back only that far. */
  ttlSeconds?: number
}

/**
 * Signs an RFC 9068 access token with the active key: header `typ: at+jwt`, claims
 * `iss sub aud exp iat jti client_id scope sid` (+ `roles` when any, `cnf.jkt` when DPoP-bound).
 * `sub` is the user id (for a machine client, the client), never the username: no personal data
 * in tokens (RFC 9068 §6). `iat` is `now`, `exp` `now` + the grant's lifetime. The caller fetches the key
 * (`getSigningKey`) before opening a transaction, so minting inside one needs no second
 * pool connection (which could deadlock a pool whose connections all wait on one lock).
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2
 */
export async function mintAccessToken(
  deps: { config: Pick<Config, 'ISSUER' | 'ACCESS_TOKEN_TTL_SECONDS'>; signingKey: SigningKey },
  grant: AccessTokenGrant,
  now: Date,
): Promise<{ accessToken: string; expiresIn: number }> {
  const { kid, privateKey } = deps.signingKey
  const iat = Math.floor(now.getTime() / 1000)
  const expiresIn = grant.ttlSeconds ?? deps.config.ACCESS_TOKEN_TTL_SECONDS
  const claims: Record<string, unknown> = {
    client_id: grant.clientId,
    scope: grant.scopes.join(' '),
    sid: grant.sessionId,
  }
  if (grant.roles.length > 0) claims.roles = grant.roles
  if (grant.confirmationJkt !== undefined) claims.cnf = { jkt: grant.confirmationJkt }
  const accessToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: SIGNING_ALGORITHM, typ: ACCESS_TOKEN_TYPE, kid })
    .setIssuer(deps.config.ISSUER)
    .setSubject(grant.userId)
    .setAudience(grant.audiences)
    .setIssuedAt(iat)
    .setExpirationTime(iat + expiresIn)
    .setJti(randomUUID())
    .sign(privateKey)
  return { accessToken, expiresIn }
}
