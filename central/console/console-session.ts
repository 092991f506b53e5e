import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Config } from '../config'

/**
 * Console cookies. With Secure on, the `__Host-` prefix makes the browser refuse the cookie
 * unless it is Secure, host-only and Path=/, so a sibling subdomain cannot plant or shadow it.
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-4.1.3.2
 */
export function consoleCookieNames(config: Pick<Config, 'COOKIE_SECURE'>) {
  const prefix = config.COOKIE_SECURE ? '__Host-' : ''
  return { session: `${prefix}portcullis-console`, signInCsrf: `${prefix}portcullis-console-signin` }
}

/** 256 random bits, base64url: the console session cookie value. */
export function newConsoleToken(): string {
  return randomBytes(32).toString('base64url')
}

/** Only this hash is stored, so a database read does not yield a usable cookie. */
export function hashConsoleToken(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

/**
 * The CSRF token of a console session, derived from its cookie value (HMAC), so nothing
 * extra is stored and a cross-site page, which cannot read the cookie, cannot compute it.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html#signed-double-submit-cookie-recommended
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('portcullis-console-csrf').digest('base64url')
}

/** Constant-time equality of two short strings (lengths may differ). */
export function safeEqual(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}
