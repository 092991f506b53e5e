import type { Context } from 'hono'
import type { AccessTokenClaims } from '../../shared/access-token-claims'
import { InvalidToken } from '../../shared/errors'
import { clientTypeOf } from '../../shared/identity-headers'
import { checkResourceDpopBinding, publicEndpointUrl } from '../clients/token-request-client'
import { findSession } from '../sessions/store'
import { verifyAccessToken } from '../tokens/verify-access-token'
import type { AppDeps } from '../app-deps'
import { assertSameOrigin } from './require-same-origin'
import { readAccessCookie } from './session-cookies'

export interface Caller {
  claims: AccessTokenClaims
  /** True when the access token came from the cookie (the response may then clear cookies). */
  viaCookie: boolean
}

/**
 * The caller of `/auth/*`: an access token from `Authorization: Bearer` (RFC 6750 §2.1) or,
 * for browsers, the access-token cookie — then a state-changing request must pass the Origin
 * check (CSRF). The token is verified against our own keys, and its session must not be
 * revoked (central can check that directly; the edge uses the revocation feed).
 */
export async function authenticateCaller(c: Context, deps: AppDeps): Promise<Caller> {
  const header = c.req.header('Authorization')
  let token: string | undefined
  let viaCookie = false
  let scheme: 'bearer' | 'dpop' | 'cookie' = 'cookie'
  if (header) {
    const match = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]+=*)$/i.exec(header)
    if (!match) throw new InvalidToken('Authorization header must be "Bearer <token>" or "DPoP <token>"')
    scheme = match[1]!.toLowerCase() === 'dpop' ? 'dpop' : 'bearer'
    token = match[2]
  } else {
    token = readAccessCookie(c)
    viaCookie = token !== undefined
  }
  if (!token) throw InvalidToken.missing()
  if (viaCookie && c.req.method !== 'GET' && c.req.method !== 'HEAD') assertSameOrigin(c, deps.config)
  const now = deps.clock()
  const claims = await verifyAccessToken(deps, token, now)
  // A client-credentials token names a client, not a session or a user: nothing here is its to act on.
  if (clientTypeOf(claims) === 'machine') throw new InvalidToken('a client-credentials token has no session')
  // A DPoP-bound token proves nothing without a proof of its key (RFC 9449 §7), here as at the edge.
  await checkResourceDpopBinding(deps, {
    scheme,
    accessToken: token,
    boundJkt: claims.cnf?.jkt,
    proof: c.req.header('DPoP'),
    method: c.req.method,
    url: publicEndpointUrl(deps.config, c.req.path),
  })
  const session = await findSession(deps.sql, claims.sid, now)
  if (!session || session.revokedAt) throw new InvalidToken('the session of this access token is revoked')
  return { claims, viaCookie }
}
