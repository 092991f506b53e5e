import { randomUUID, sign, type KeyObject } from 'node:crypto'
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
  const payload = {
    ...claims,
    iss: deps.config.ISSUER,
    sub: grant.userId,
    aud: grant.audiences,
    iat,
    exp: iat + expiresIn,
    jti: randomUUID(),
  }
  const accessToken = signCompactJws({ alg: SIGNING_ALGORITHM, typ: ACCESS_TOKEN_TYPE, kid }, payload, privateKey)
  return { accessToken, expiresIn }
}

/**
 * RFC 7515 §7.1 compact serialization of an ES256 JWS (RFC 7518 §3.4: the signature is R ‖ S,
 * which `dsaEncoding: 'ieee-p1363'` gives). Verified by jose wherever tokens are checked. Signed
 * with node:crypto, not jose's SignJWT: jose signs through WebCrypto, whose promise-based job costs
 * about three times a synchronous ECDSA signature, the largest single CPU cost of a refresh.
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 */
function signCompactJws(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' })
  return `${signingInput}.${signature.toString('base64url')}`
}
