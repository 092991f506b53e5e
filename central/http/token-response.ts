import type { Context } from 'hono'
import type { Config } from '../config'
import { accessTokenType, type TokenSet } from '../sessions/token-set'
import { setSessionCookies } from './session-cookies'

/**
 * RFC 6749 §5.1 success body, with `Cache-Control: no-store` (§5.1 requires it for responses
 * carrying tokens). In cookie mode the tokens go into HttpOnly cookies and stay out of the
 * body, where page scripts could read them.
 */
export function tokenResponse(c: Context, config: Config, tokens: TokenSet, cookieMode: boolean) {
  const tokenType = accessTokenType(tokens.confirmationJkt)
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

