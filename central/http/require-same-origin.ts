import type { Context } from 'hono'
import { Forbidden } from '../../shared/errors'
import type { Config } from '../config'

/** What a browser told us about where a cookie-authenticated write came from. */
export interface RequestSite {
  /** The `Origin` header, when sent. */
  origin: string | undefined
  /** The `Sec-Fetch-Site` header (Fetch Metadata), when sent. */
  secFetchSite: string | undefined
}

export type SameOriginDecision = { kind: 'allowed' } | { kind: 'refused'; reason: string }

/**
 * The one CSRF rule for every cookie-authenticated write: the console's forms and central's
 * cookie-mode auth endpoints alike. Fetch Metadata first, the Origin check as its fallback:
 * - `Sec-Fetch-Site: same-origin` → allowed; `cross-site` → refused, whatever `Origin` says;
 * - `same-site` (a sibling subdomain), `none` or anything else → only with an allowed `Origin`;
 * - no `Sec-Fetch-Site` (older browsers) → `Origin` must be present and allowed. A request with
 *   neither header is refused: every browser sends one of them on a POST, and a non-browser
 *   client can send `Origin` itself.
 * Browsers set both headers and pages cannot forge them (forbidden header names).
 *
 * Not `hono/csrf`: it lets any request through whose Content-Type is not a form type (it counts
 * on CORS preflight, yet a bodiless cross-site POST to /auth/logout must be refused too), it
 * passes when *either* header is acceptable, and it answers with its own plain-text 403, while
 * the API answers in RFC 6750 JSON and the console with a page.
 * @see https://www.w3.org/TR/fetch-metadata/#sec-fetch-site-header
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html#fetch-metadata-headers
 */
export function decideSameOrigin(site: RequestSite, allowedOrigins: readonly string[]): SameOriginDecision {
  if (site.secFetchSite === 'same-origin') return { kind: 'allowed' }
  if (site.secFetchSite === 'cross-site') return { kind: 'refused', reason: 'cross-site requests are not accepted with cookies (Sec-Fetch-Site: cross-site)' }
  if (site.origin === undefined) {
    return { kind: 'refused', reason: 'cookie-authenticated requests need an Origin header or Sec-Fetch-Site: same-origin' }
  }
  if (!allowedOrigins.includes(site.origin)) return { kind: 'refused', reason: 'Origin is not allowed for cookie-authenticated requests' }
  return { kind: 'allowed' }
}

/** The request's `Origin` and `Sec-Fetch-Site` headers. */
export function requestSite(c: Context): RequestSite {
  return { origin: c.req.header('Origin'), secFetchSite: c.req.header('Sec-Fetch-Site') }
}

/** `decideSameOrigin` on this request; refused → `Forbidden` (403) naming the rule. */
export function assertSameOrigin(c: Context, config: Config): void {
  const decision = decideSameOrigin(requestSite(c), allowedOrigins(c, config))
  if (decision.kind === 'refused') throw new Forbidden(decision.reason)
}

/**
 * The browser origins central trusts with its cookies (API and console alike): its own, the
 * ISSUER's and PUBLIC_URL's (when browsers reach it through the edge), and ALLOWED_ORIGINS.
 */
export function allowedOrigins(c: Context, config: Config): string[] {
  const origins = [new URL(c.req.url).origin, new URL(config.ISSUER).origin]
  if (config.PUBLIC_URL) origins.push(new URL(config.PUBLIC_URL).origin)
  return [...origins, ...config.ALLOWED_ORIGINS]
}
