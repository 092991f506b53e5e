import type { Context } from 'hono'
import { decodeJwt } from 'jose'
import type { Config } from '../config'
import type { TokenSet } from '../sessions/token-set'
import { setSessionCookies } from './session-cookies'

/**
 * RFC 6749 §5.1 success body, with `Cache-Control: no-store` (§5.1 requires it for responses
 * carrying tokens). In cookie mode the tokens go into HttpOnly cookies and stay out of the
 * body, where page scripts could read them.
 */
export function tokenResponse(c: Context, config: Config, tokens: TokenSet, cookieMode: boolean) {
  const tokenType = accessTokenType(tokens.accessToken)
  c.header('Cache-Control', 'no-store')
  c.header('Pragma', 'no-cache')
  if (cookieMode) {
    setSessionCookies(c, config, tokens)
    return c.json({ token_type: tokenType, expires_in: tokens.expiresIn, scope: tokens.scope }, 200)
  }
  return c.json(
    {
      access_token: tokens.accessToken,
      token_type: tokenType,
      expires_in: tokens.expiresIn,
      refresh_token: tokens.refreshToken,
      scope: tokens.scope,
    },
    200,
  )
}

/**
 * RFC 9449 §5: a token bound to a DPoP key (`cnf.jkt`, RFC 9449 §6.1) is issued as `token_type`
 * `DPoP`, any other as `Bearer`. Read from the token we just minted, so the answer cannot disagree
 * with what the edge will demand.
 */
export function accessTokenType(accessToken: string): 'Bearer' | 'DPoP' {
  const { cnf } = decodeJwt(accessToken) as { cnf?: { jkt?: unknown } }
  return typeof cnf?.jkt === 'string' ? 'DPoP' : 'Bearer'
}
