import type { Context } from 'hono'
import { Forbidden } from '../../shared/errors'
import type { Config } from '../config'

/**
 * CSRF defence for cookie-authenticated requests: the browser always sends `Origin` on
 * cross-origin and on POST/DELETE requests, so it must be present and be our own origin
 * (the request's, or the ISSUER's when behind the edge) or one of ALLOWED_ORIGINS.
 * SameSite=Lax already keeps cookies off cross-site POSTs; this also covers same-site
 * subdomains and older browsers.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html#verifying-origin-with-standard-headers
 */
export function assertSameOrigin(c: Context, config: Config): void {
  const origin = c.req.header('Origin')
  if (!origin) throw new Forbidden('cookie-authenticated requests need an Origin header')
  if (!allowedOrigins(c, config).includes(origin)) throw new Forbidden('Origin is not allowed for cookie-authenticated requests')
}

/**
 * The browser origins central trusts with its cookies (API and console alike): its own, the
 * ISSUER's (when browsers reach it through the edge), and ALLOWED_ORIGINS.
 */
export function allowedOrigins(c: Context, config: Config): string[] {
  return [new URL(c.req.url).origin, new URL(config.ISSUER).origin, ...config.ALLOWED_ORIGINS]
}
