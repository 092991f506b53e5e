import { z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Config } from '../config'
import type { TokenSet } from '../sessions/token-set'
import { setSessionCookies } from './session-cookies'

export const ErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() }).openapi('OAuthError')
export const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } })

export const TokenResponseSchema = z
  .object({
    access_token: z.string().optional().openapi({ description: 'Absent in cookie mode (then in the portcullis_at cookie)' }),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    refresh_token: z.string().optional().openapi({ description: 'Absent in cookie mode (then in the portcullis_rt cookie)' }),
    scope: z.string(),
  })
  .openapi('TokenResponse')

/** RFC 6749 §3.3 scope-token / client_id characters: printable ASCII without space, `"` or `\`. */
export const TokenCharsSchema = z.string().min(1).max(200).regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'printable ASCII without space, " or \\')

/**
 * RFC 6749 §5.1 success body, with `Cache-Control: no-store` (§5.1 requires it for responses
 * carrying tokens). In cookie mode the tokens go into HttpOnly cookies and stay out of the
 * body, where page scripts could read them.
 */
export function tokenResponse(c: Context, config: Config, tokens: TokenSet, cookieMode: boolean) {
  c.header('Cache-Control', 'no-store')
  c.header('Pragma', 'no-cache')
  if (cookieMode) {
    setSessionCookies(c, config, tokens)
    return c.json({ token_type: 'Bearer' as const, expires_in: tokens.expiresIn, scope: tokens.scope }, 200)
  }
  return c.json(
    {
      access_token: tokens.accessToken,
      token_type: 'Bearer' as const,
      expires_in: tokens.expiresIn,
      refresh_token: tokens.refreshToken,
      scope: tokens.scope,
    },
    200,
  )
}
