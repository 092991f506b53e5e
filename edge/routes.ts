import { InvalidRequest, NotFound } from '../shared/errors'

/** A route after validation, with its position in `ROUTES` kept for logs and error messages. */
export interface Route {
  index: number
  /** As written in `ROUTES`; shown in logs and errors. */
  prefix: string
  /** `prefix` in the form `matchRoute` compares (`routeComparisonForm`: ASCII lower-case). */
  matchPrefix: string
  origin: string
  methods: string[] | undefined
  public: boolean
  audience: string | undefined
  scopes: string[]
  roles: string[]
  /** A web app's route: a page load without a valid token goes to sign-in (`edge/browser-answers.ts`). Absent: false. */
  browser?: boolean
  /** Only DPoP-bound tokens with a valid proof (RFC 9449); absent: bound and bearer tokens alike. */
  dpop?: 'required'
  /** Central's own paths (`/auth/`, `/oauth/`, `/.well-known/`, `/openapi.json`), forwarded unchanged. */
  central: boolean
}

/** Characters RFC 3986 §2.3 calls unreserved: their percent-encoding means the same as the character. */
const UNRESERVED = /[A-Za-z0-9\-._~]/
/**
 * What the full normalization below looks at; a path without any of it is already normal. A `;`
 * starts path parameters (RFC 3986 §3.3), which some origins drop before resolving the segment.
 */
const NEEDS_NORMALIZING = /[%\\;]|\/\/|\/\./

/**
 * Brings a request path to the one form the edge matches and forwards (RFC 3986 §6.2.2):
 * percent-encoded unreserved characters are decoded, other escapes upper-cased. Anything that could
 * make the origin see a different path than the edge authorized is rejected instead of guessed at:
 * `.`/`..` segments (also as `%2e`, and with `;…` parameters: Tomcat, Jetty and Spring drop those
 * and then resolve `..;` as `..`), encoded `/` or `\` (`%2f`, `%5c`, and double-encoded `%252f`),
 * a raw `\`, and empty segments (`//`, or `/;x/`, which those origins merge away). The caller
 * forwards exactly the returned path, parameters and letter case included; `matchRoute` compares
 * its `routeComparisonForm`.
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2
 */
export function normalizeRequestPath(rawPath: string): string {
  if (!rawPath.startsWith('/')) throw new InvalidRequest('request path must be absolute')
  // Most paths have nothing to normalize or refuse: no escape, backslash, `;`, `//` or `/.` at all.
  if (!NEEDS_NORMALIZING.test(rawPath)) return rawPath
  if (rawPath.includes('\\')) throw new InvalidRequest('request path must not contain a backslash')
  let normalized = ''
  for (let i = 0; i < rawPath.length; i++) {
    const char = rawPath[i]!
    if (char !== '%') {
      normalized += char
      continue
    }
    const hex = rawPath.slice(i + 1, i + 3)
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new InvalidRequest('request path has a malformed percent-escape')
    const decoded = String.fromCharCode(parseInt(hex, 16))
    normalized += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`
    i += 2
  }
  // An origin (or a second proxy) that decodes once more would turn these into separators.
  if (/%(2F|5C|25(2F|5C|2E))/i.test(normalized)) {
    throw new InvalidRequest('request path must not contain an encoded slash or backslash')
  }
  // …and these into a prefix character (`%2540` into `@`) after `matchRoute` compared the path.
  if (DOUBLE_ENCODED_PREFIX_CHARACTER.test(normalized)) {
    throw new InvalidRequest('request path must not contain a double-encoded prefix character')
  }
  const segments = normalized.split('/')
  for (let i = 1; i < segments.length; i++) {
    const name = withoutPathParameters(segments[i]!)
    if (name === '.' || name === '..') throw new InvalidRequest('request path must not contain dot segments')
    if (name === '' && i < segments.length - 1) throw new InvalidRequest('request path must not contain empty segments')
  }
  return normalized
}

/** A segment without its `;…` parameters (RFC 3986 §3.3), as Tomcat, Jetty and Spring read it. */
function withoutPathParameters(segment: string): string {
  const parameters = segment.indexOf(';')
  return parameters === -1 ? segment : segment.slice(0, parameters)
}

/** What `routeComparisonForm` changes; an all-lower-case path without `;` or `%` is its own form. */
const NEEDS_COMPARISON_FORM = /[A-Z;%]/
/**
 * Escapes of the characters a route prefix may hold besides unreserved ones (those
 * `normalizeRequestPath` already decoded): `:`, `@` and every sub-delim but `;` (`%21 %24 %26-%2C %3A
 * %3D %40`).
 * `%3B` stays encoded: a prefix has no `;`, and Tomcat, Spring and Express read `%3B` as part of the
 * segment, so decoding it into a parameter would move `/api/public%3Bx` from `/api/` to `/api/public/`.
 */
const ENCODED_PREFIX_CHARACTER = /%(2[146-9A-C]|3[AD]|40)/gi
/** One of those escapes with its `%` escaped again (`%2540`, `%253A`). */
const DOUBLE_ENCODED_PREFIX_CHARACTER = /%25(2[146-9A-C]|3[AD]|40)/i
/** What `matchRoute` says when decoding the escapes of prefix characters changes the route. */
const AMBIGUOUS_PATH = 'request path is ambiguous: percent-encoded characters change which route applies'

/**
 * The form of a normalized path (or a route prefix) that routes are matched on: the characters a
 * prefix may contain decoded where they are percent-encoded (`%40` is `@`, `%3A` is `:`), every
 * segment's `;…` parameters removed and ASCII letters lower-cased. Origin frameworks disagree on all
 * three: ASP.NET Core, Spring and Tomcat decode the path before routing (`/%40admin/x` reaches the
 * `/@admin/` handler), Express and ASP.NET Core route `/api/Orders` to the `/api/orders` handler,
 * Tomcat, Jetty and Spring route `/api/orders;x/new` to `/api/orders/new`. Matching on this form,
 * the more restrictive route wins for every such variant; an origin that keeps the escape, the case
 * or the parameters then simply answers 404 for the variant instead of serving it under a route the
 * edge did not check. Matching on the path as written instead would let `/api/Orders/new` skip the
 * `/api/orders/` checks and still reach the orders handler of an Express or ASP.NET Core origin.
 */
export function routeComparisonForm(path: string): string {
  // The common path (no escape, parameter or capital) is returned as it is, without allocating.
  if (!NEEDS_COMPARISON_FORM.test(path)) return path
  const decoded = path.includes('%')
    ? path.replace(ENCODED_PREFIX_CHARACTER, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)))
    : path
  return withoutParametersOrCapitals(decoded)
}

/** A path without its segments' `;…` parameters, ASCII letters lower-cased. */
function withoutParametersOrCapitals(path: string): string {
  // Only ASCII: String#toLowerCase maps e.g. the Kelvin sign to "k", which no origin's router does.
  return path.replace(/;[^/]*/g, '').replace(/[A-Z]+/g, (letters) => letters.toLowerCase())
}

/**
 * The route for a normalized path: the longest matching prefix among routes that allow the method.
 * Prefixes match whole segments; `/api/` also matches `/api`. Path and prefixes are compared in
 * their `routeComparisonForm` (prefix characters decoded, case-insensitive, without path parameters).
 * No match is a 404 from the edge; the request is never forwarded.
 *
 * A path whose escaped prefix characters pick another route than the same path read with the
 * escapes left alone is refused with 400 `invalid_request`. Origins disagree on which reading they
 * route: ASP.NET Core, Spring and Tomcat decode first (`/v1/status%3Acheck` is their
 * `/v1/status:check` handler), Express 4 matches the path as sent (there it is not, and falls
 * through to e.g. `/v1/:id`). Whichever route the edge picked, one kind of origin would run a
 * handler the edge did not check the request for.
 */
export function matchRoute(routes: readonly Route[], method: string, path: string): Route {
  const comparable = routeComparisonForm(path)
  const best = findLongestPrefixRoute(routes, method, comparable)
  // Only a path with an escape has a second reading; the common path is matched once.
  if (path.includes('%')) {
    const undecoded = withoutParametersOrCapitals(path)
    if (undecoded !== comparable && findLongestPrefixRoute(routes, method, undecoded) !== best) {
      throw new InvalidRequest(AMBIGUOUS_PATH)
    }
  }
  if (!best) throw new NotFound('no route matches this path')
  return best
}

function findLongestPrefixRoute(routes: readonly Route[], method: string, comparable: string): Route | undefined {
  let best: Route | undefined
  for (const route of routes) {
    if (route.methods && !route.methods.includes(method.toUpperCase())) continue
    if (!pathHasPrefix(comparable, route.matchPrefix)) continue
    if (!best || route.matchPrefix.length > best.matchPrefix.length) best = route
  }
  return best
}

/** Prefixes match whole segments: `/api` matches `/api` and `/api/x`, never `/apiv2`. */
function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix.endsWith('/')) return path.startsWith(prefix) || path === prefix.slice(0, -1)
  return path === prefix || path.startsWith(`${prefix}/`)
}
