import { BadGateway, GatewayTimeout } from '../shared/errors'
import { IDENTITY_HEADER_NAMES, type ForwardedIdentity, type IdentityField } from '../shared/identity-headers'

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the legacy ones proxies still see. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']
/**
 * Client-supplied forwarding headers, besides every `X-Forwarded-*` (`FORWARDED_PREFIX`), and
 * client-address headers: the edge is the first trusted hop and sets its own `X-Forwarded-*`; the
 * others name a client address an origin (or its framework's "real IP" lookup) might trust for logs,
 * rate limits or allow-lists.
 */
const CLIENT_FORWARDING_HEADERS = ['forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'x-cluster-client-ip']
/**
 * Headers that make a framework act on another method or path than the request line's: the edge
 * authorized the request line, so these would run, say, a `DELETE` or an `/admin/` handler on the
 * strength of an allowed `GET /api/`. Method overrides: Symfony, Laravel, express `method-override`;
 * URL rewrites: IIS, Zend, older Symfony.
 */
const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url']
/**
 * Inbound headers never forwarded, whatever the route. `host` is the edge's own; `accept-encoding`
 * goes because the runtime's `fetch` negotiates the encoding it can decode itself (as `hono/proxy`
 * does).
 */
const ALWAYS_DROPPED = new Set([...HOP_BY_HOP, ...CLIENT_FORWARDING_HEADERS, ...OVERRIDE_HEADERS, 'host', 'accept-encoding'])
/**
 * Every inbound `X-Forwarded-*` goes, not only the three the edge sets: frameworks also build URLs
 * and paths from `-Port`, `-Prefix`, `-Server` or `-Uri` (Spring's ForwardedHeaderFilter, Traefik).
 */
const FORWARDED_PREFIX = 'x-forwarded-'
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/**
 * A Bearer or DPoP (RFC 9449 §7.1) credential anywhere in an `Authorization` value: both carry our
 * access tokens. The Fetch API joins repeated headers with `, `, so `Basic …, Bearer <token>` must be
 * caught as well as a value that starts with it; schemes are case-insensitive (RFC 9110 §11.1).
 */
const BEARER_CREDENTIAL = /(?:^|,)\s*(?:bearer|dpop)(?:\s|,|$)/i

/** The identity headers for one prefix, built once per isolate rather than per request. */
export interface IdentityHeaderNames {
  /** The prefix in comparison form (`comparableHeaderName`): every inbound header with it is dropped. */
  prefix: string
  /** Each identity field with its full header name. */
  fields: readonly (readonly [IdentityField, string])[]
}

/** The identity header names under `prefix`, worked out once per isolate. */
export function identityHeaderNames(prefix: string): IdentityHeaderNames {
  const fields = Object.entries(IDENTITY_HEADER_NAMES).map(([field, name]) => [field as IdentityField, `${prefix}${name}`] as const)
  return { prefix: comparableHeaderName(prefix.toLowerCase()), fields }
}

/**
 * A lower-case header name as origins may read it: `_` as `-`. CGI, WSGI, Rack and PHP turn both
 * `X-Portcullis-Sub` and `X_Portcullis_Sub` into `HTTP_X_PORTCULLIS_SUB`, so an underscore variant
 * the edge let through would be read as the identity header it sets (the bug of oauth2-proxy
 * CVE-2025-64484). Names without `_`, nearly all, are returned as they are, without a copy.
 * @see https://www.rfc-editor.org/rfc/rfc3875#section-4.1.18
 */
function comparableHeaderName(name: string): string {
  return name.includes('_') ? name.replaceAll('_', '-') : name
}

/**
 * The client's credentials removed before forwarding: always the access-token cookie, and
 * `Authorization` either whatever its scheme (`'any'`, protected routes: it carried the token just
 * verified) or only when it carries a Bearer credential (`'bearer'`, public routes). A public route
 * keeps other schemes (e.g. Basic for the origin's own login): only a Bearer credential and the
 * cookie can be our access token, and removing those is what keeps tokens off public origins, which
 * may be third parties the browser attaches the `Path=/` cookie for.
 */
export interface CredentialsToStrip {
  cookieName: string
  authorization: 'any' | 'bearer'
}

export interface OriginHeaderOptions {
  identityHeaders: IdentityHeaderNames
  /** The verified identity on a protected route; `undefined` on public routes. */
  identity: ForwardedIdentity | undefined
  /** `undefined` forwards credentials unchanged: central's own routes, and FORWARD_AUTHORIZATION. */
  stripCredentials: CredentialsToStrip | undefined
  clientAddress: string | null
  requestUrl: URL
  /** Keep `Upgrade`/`Connection: upgrade` for a WebSocket handshake. */
  webSocket: boolean
}

/**
 * The headers an origin receives. Everything a client could use to forge an identity goes (every
 * header with the identity prefix, also written with `_` for `-`, and any header the client names in
 * `Connection`, which a later hop would otherwise drop or keep on the client's say-so: RFC 9110
 * §7.6.1), so do hop-by-hop headers, and only then the edge sets identity and `X-Forwarded-*`.
 *
 * Costed for workerd, where every `Headers` call crosses into C++ and building `Headers` from a list
 * of pairs is slow: the inbound names are read once, the decisions are made in plain JS, and the copy
 * then gets only the deletes that find something plus the sets. The delete-every-candidate version
 * (about 30 calls) was the largest cost of a cache-hit request.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
export function buildOriginRequestHeaders(inbound: Headers, options: OriginHeaderOptions): Headers {
  const names = options.identityHeaders
  const prefix = names.prefix
  // Iteration yields lower-case names, one entry per name (values joined), so plain comparisons hold.
  const inboundNames: string[] = []
  let connection: string | undefined
  let cookie: string | undefined
  let authorization: string | undefined
  inbound.forEach((value, name) => {
    inboundNames.push(name)
    if (name === 'connection') connection = value
    else if (name === 'cookie') cookie = value
    else if (name === 'authorization') authorization = value
  })
  let namedInConnection: Set<string> | undefined
  if (connection !== undefined) {
    namedInConnection = new Set()
    for (const listed of connection.split(',')) {
      const trimmed = listed.trim().toLowerCase()
      if (TOKEN.test(trimmed) && !(options.webSocket && trimmed === 'upgrade')) namedInConnection.add(trimmed)
    }
  }
  const strip = options.stripCredentials
  const dropAuthorization =
    strip !== undefined && authorization !== undefined && (strip.authorization === 'any' || BEARER_CREDENTIAL.test(authorization))
  const headers = new Headers(inbound)
  for (const name of inboundNames) {
    const compared = comparableHeaderName(name)
    if (
      ALWAYS_DROPPED.has(compared) ||
      compared.startsWith(prefix) ||
      compared.startsWith(FORWARDED_PREFIX) ||
      namedInConnection?.has(name) ||
      (dropAuthorization && name === 'authorization')
    ) {
      headers.delete(name)
    }
  }
  if (strip && cookie !== undefined && !namedInConnection?.has('cookie')) {
    const kept = withoutCookie(cookie, strip.cookieName)
    if (kept === null) headers.delete('cookie')
    else if (kept !== cookie) headers.set('cookie', kept)
  }
  if (options.webSocket) {
    headers.set('Connection', 'Upgrade')
    headers.set('Upgrade', 'websocket')
  }

  const identity = options.identity
  if (identity) {
    for (const [field, name] of names.fields) {
      const value = identity[field]
      if (value !== undefined) headers.set(name, value)
    }
  }

  if (options.clientAddress) headers.set('X-Forwarded-For', options.clientAddress)
  headers.set('X-Forwarded-Proto', options.requestUrl.protocol.slice(0, -1))
  headers.set('X-Forwarded-Host', options.requestUrl.host)
  return headers
}

/**
 * Whether a request is a WebSocket opening handshake (RFC 6455 §4.1): `GET`, `Connection` listing
 * `upgrade`, `Upgrade: websocket`. Only then are `Upgrade`/`Connection` kept for the origin; a bare
 * `Upgrade: websocket` on any other request is an ordinary request whose hop-by-hop headers go.
 * `Upgrade` is read first: almost no request has it, so the rest is rarely looked at.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-4.1
 */
export function isWebSocketHandshake(request: Request): boolean {
  if (request.headers.get('Upgrade')?.trim().toLowerCase() !== 'websocket' || request.method !== 'GET') return false
  const connection = request.headers.get('Connection')
  return connection !== null && connection.split(',').some((listed) => listed.trim().toLowerCase() === 'upgrade')
}

export interface ForwardOptions {
  targetUrl: string
  headers: Headers
  /** Time allowed until the origin's response headers arrive; the body then streams unbounded. */
  timeoutMs: number
}

/**
 * Sends the request to the origin: method and streamed body kept, redirects handed to the client
 * rather than followed (a WebSocket handshake included: following would send the identity headers
 * and cookies to wherever `Location` points and answer with that host's body), response streamed back
 * without hop-by-hop headers. A `101 Switching Protocols` alone passes as it is. Unreachable origin
 * → 502, no response headers within `timeoutMs` → 504.
 *
 * This is `hono/proxy`'s forward done by hand, because on workerd its generality cost a fifth of a
 * cache-hit request: it copies the already-built headers into a new `Request`, then copies the
 * response headers and re-wraps every response. Here the response passes through untouched unless it
 * carries something to remove, which is what `proxy` removes (`originResponse` below).
 * @see https://hono.dev/docs/helpers/proxy
 */
export async function forwardToOrigin(request: Request, options: ForwardOptions): Promise<Response> {
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, options.timeoutMs)
  try {
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
    const response = await fetch(options.targetUrl, {
      method: request.method,
      headers: options.headers,
      body: hasBody ? request.body : null,
      redirect: 'manual',
      signal: controller.signal,
    })
    // An accepted WebSocket handshake: the 101 carries the socket (`response.webSocket`), which a
    // re-wrapped response would lose. Any other answer to a handshake is shaped like every response.
    if (response.status === 101) return response
    return originResponse(response)
  } catch (error) {
    if (timedOut) throw new GatewayTimeout(`origin did not answer within ${options.timeoutMs} ms`, { cause: error })
    throw new BadGateway('origin is unreachable', { cause: error })
  } finally {
    clearTimeout(timer)
  }
}

/** Response headers `hono/proxy` removes: RFC 9110 §7.6.1 hop-by-hop headers. */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

/**
 * The origin's response for the client, as `hono/proxy` shapes it: hop-by-hop headers and those
 * named in `Connection` removed; with `Content-Encoding`, that and `Content-Length` removed too, since
 * the runtime's `fetch` hands the body over decoded. Most responses have none of these and are
 * returned as they are (status, headers and the streamed body), skipping a copy and a re-wrap.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
function originResponse(response: Response): Response {
  let remove: Set<string> | undefined
  let encoded = false
  response.headers.forEach((value, name) => {
    if (RESPONSE_HOP_BY_HOP.has(name)) {
      remove ??= new Set()
      remove.add(name)
      if (name === 'connection') {
        for (const listed of value.split(',')) {
          const trimmed = listed.trim().toLowerCase()
          if (TOKEN.test(trimmed)) remove.add(trimmed)
        }
      }
    } else if (name === 'content-encoding') {
      encoded = true
    }
  })
  if (!remove && !encoded) return response
  const headers = new Headers(response.headers)
  if (remove) for (const name of remove) headers.delete(name)
  if (encoded) {
    headers.delete('content-encoding')
    headers.delete('content-length')
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
}

/** The `Cookie` header without the access-token cookie, so the token is not forwarded by accident. */
function withoutCookie(header: string | null, name: string): string | null {
  if (!header) return null
  const kept = header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && pair.slice(0, pair.indexOf('=') === -1 ? pair.length : pair.indexOf('=')).trim() !== name)
  return kept.length > 0 ? kept.join('; ') : null
}
