import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import type { Config } from '../config'
import type { TokenSet } from '../sessions/token-set'
import { SIGN_IN_MARKER_COOKIE } from '../../shared/sign-in-marker'

export const ACCESS_TOKEN_COOKIE = 'portcullis_at'
export const REFRESH_TOKEN_COOKIE = 'portcullis_rt'

/**
 * The refresh token cookie is set once per path it is needed on (`/oauth` for refresh and
 * revoke, `/auth` for logout), so no other path — and no script (HttpOnly) — ever sees it.
 */
const REFRESH_COOKIE_PATHS = ['/oauth', '/auth'] as const

/**
 * Browser flow: tokens travel in HttpOnly cookies instead of the body. SameSite=Lax, not Strict:
 * a sign-in that returns from the provider, and a link from another site to an app behind the
 * edge, are cross-site top-level navigations, and Strict cookies are left off those (the person
 * would meet the sign-in page again). Lax cookies still never go with cross-site POSTs,
 * subrequests or frames; cookie-authenticated writes also need an allowed Origin.
 * The access-token cookie is on `/` so the edge (same site) can read it on API calls.
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-browser-based-apps#section-6.2
 */
export function setSessionCookies(c: Context, config: Config, tokens: TokenSet): void {
  setCookie(c, ACCESS_TOKEN_COOKIE, tokens.accessToken, {
    httpOnly: true,
    secure: config.COOKIE_SECURE,
    sameSite: 'Lax',
    path: '/',
    maxAge: tokens.expiresIn,
  })
  for (const path of REFRESH_COOKIE_PATHS) {
    setCookie(c, REFRESH_TOKEN_COOKIE, tokens.refreshToken, {
      httpOnly: true,
      secure: config.COOKIE_SECURE,
      sameSite: 'Lax',
      path,
      maxAge: config.REFRESH_ABSOLUTE_TTL_SECONDS,
    })
  }
}

export function clearSessionCookies(c: Context, config: Config): void {
  deleteCookie(c, SIGN_IN_MARKER_COOKIE, { path: '/', secure: config.COOKIE_SECURE, httpOnly: true, sameSite: 'Lax' })
  deleteCookie(c, ACCESS_TOKEN_COOKIE, { path: '/', secure: config.COOKIE_SECURE, httpOnly: true, sameSite: 'Lax' })
  for (const path of REFRESH_COOKIE_PATHS) {
    deleteCookie(c, REFRESH_TOKEN_COOKIE, { path, secure: config.COOKIE_SECURE, httpOnly: true, sameSite: 'Lax' })
  }
}

export function readRefreshCookie(c: Context): string | undefined {
  return getCookie(c, REFRESH_TOKEN_COOKIE) || undefined
}

export function readAccessCookie(c: Context): string | undefined {
  return getCookie(c, ACCESS_TOKEN_COOKIE) || undefined
}
