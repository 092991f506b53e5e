import { readBearerToken } from '../shared/bearer-token'
import { InvalidBearerRequest, InvalidToken } from '../shared/errors'

/** A query holding a name that some origin reads as `access_token` contains one of these. */
const MAY_NAME_ACCESS_TOKEN = /access|%/i

/** How the token came: which scheme (RFC 6750 Bearer, RFC 9449 DPoP) or the cookie (a bearer use, too). */
export type TokenPresentation = 'bearer' | 'dpop' | 'cookie'

export interface PresentedToken {
  token: string
  presentedAs: TokenPresentation
}

/** RFC 9449 §7.1: `DPoP` (any case), then the token in the same `token68` shape as Bearer's. */
const DPOP_CREDENTIALS = /^DPoP +([A-Za-z0-9\-._~+/]+=*)$/i

/**
 * The access token of a request: `Authorization: Bearer …` or `Authorization: DPoP …` first, else
 * the access-token cookie.
 * RFC 6750 §2 lets a client use one method per request; a request that carries two (two headers,
 * which the Fetch API joins with a comma, header and cookie, two cookies) or puts the token in the
 * query string (§2.3, leaks into logs and Referer) is refused with 400 `invalid_request` rather than
 * having one silently picked (`InvalidBearerRequest`: its challenge is built where every error's
 * is). No token at all → 401 without an error code (§3.1).
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2
 */
export function extractAccessToken(request: Request, url: URL, cookieName: string): PresentedToken {
  // `searchParams` builds a URLSearchParams (a runtime object) on first use, so the query is parsed
  // only when it could name `access_token`: the word `access` in any case, or an escape
  // (`acc%65ss_token`, which every query parser, the origin's included, decodes to the same name).
  // Most queries have neither.
  if (MAY_NAME_ACCESS_TOKEN.test(url.search)) {
    // Rack 2 (Rails ≤ 7.0, Sinatra), older Django and Go before 1.17 also split the query at `;`,
    // so `?q=1;access_token=…` hands them a token that URLSearchParams files under `q`.
    for (const name of new URLSearchParams(url.search.replaceAll(';', '&')).keys()) {
      if (readsAsAccessToken(name)) throw new InvalidBearerRequest('access tokens are not accepted in the query string')
    }
  }
  const authorization = request.headers.get('Authorization')
  const cookieTokens = readCookieValues(request.headers.get('Cookie'), cookieName)
  if (authorization !== null) {
    const bearer = readBearerToken(authorization)
    const dpop = bearer === undefined ? DPOP_CREDENTIALS.exec(authorization.trim())?.[1] : undefined
    if (bearer === undefined && dpop === undefined) {
      throw new InvalidBearerRequest(
        authorization.includes(',') ? 'more than one Authorization header was sent' : 'Authorization header is not a single Bearer or DPoP token',
      )
    }
    if (cookieTokens.length > 0) throw new InvalidBearerRequest('access token sent in both the Authorization header and a cookie')
    return bearer !== undefined ? { token: bearer, presentedAs: 'bearer' } : { token: dpop!, presentedAs: 'dpop' }
  }
  if (cookieTokens.length > 1) throw new InvalidBearerRequest('more than one access-token cookie was sent')
  const cookieToken = cookieTokens[0]
  if (cookieToken === undefined || cookieToken === '') throw InvalidToken.missing()
  return { token: cookieToken, presentedAs: 'cookie' }
}

/**
 * Whether an origin's query parser could file parameter `name` (already percent- and `+`-decoded)
 * under `access_token`. ASP.NET Core's query collection ignores case. PHP drops leading spaces,
 * reads the name only up to a NUL, turns ` ` and `.` into `_`, files `access_token[]` and
 * `access_token[x]` under `access_token` (as do Rack and Express's qs), and turns an unclosed `[`
 * into `_` (`access[token`). Rack 2 skips leading `[`/`]` and ends the name at the next bracket
 * (`]access_token`, `access_token]`); qs reads a leading `[name]` group as the name
 * (`[access_token]`). Refusing a name no origin confuses costs nothing; letting one through leaks
 * the token into logs and Referer (RFC 6750 §2.3) and hands the origin a token the edge did not
 * check.
 */
function readsAsAccessToken(name: string): boolean {
  const nul = name.indexOf('\0')
  let base = (nul === -1 ? name : name.slice(0, nul)).trimStart().toLowerCase().replace(/^[[\]]+/, '')
  const bracket = base.indexOf('[')
  if (bracket !== -1 && base.includes(']', bracket)) base = base.slice(0, bracket)
  const close = base.indexOf(']')
  if (close !== -1) base = base.slice(0, close)
  return base.replace(/[\s.[]/g, '_') === 'access_token'
}

/** Every value of cookie `name` (RFC 6265 §5.4 allows a name to repeat when paths differ). */
function readCookieValues(header: string | null, name: string): string[] {
  if (!header) return []
  const values: string[] = []
  for (const pair of header.split(';')) {
    const separator = pair.indexOf('=')
    if (separator === -1) continue
    if (pair.slice(0, separator).trim() !== name) continue
    let value = pair.slice(separator + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    values.push(value)
  }
  return values
}
