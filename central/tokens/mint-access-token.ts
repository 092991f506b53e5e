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
}

/**
 * Signs an RFC 9068 access token with the active key: header `typ: at+jwt`, claims
 * `iss sub aud exp iat jti client_id scope sid` (+ `roles` when any). `sub` is the user id,
 * never the username: no personal data in tokens (RFC 9068 §6). The caller fetches the key
 * (`getSigningKey`) before opening a transaction, so minting inside one needs no second
 * pool connection (which could deadlock a pool whose connections all wait on one lock).
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2
 */
export async function mintAccessToken(
  deps: { config: Config; signingKey: SigningKey },
  grant: AccessTokenGrant,
  now: Date,
): Promise<{ accessToken: string; expiresIn: number }> {
  const { kid, privateKey } = deps.signingKey
  const iat = Math.floor(now.getTime() / 1000)
  const expiresIn = deps.config.ACCESS_TOKEN_TTL_SECONDS
  const claims: Record<string, unknown> = {
    client_id: grant.clientId,
    scope: grant.scopes.join(' '),
    sid: grant.sessionId,
  }
  if (grant.roles.length > 0) claims.roles = grant.roles
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
