import { Hono } from 'hono'
import { accessTokenRules } from '../shared/access-token-rules'
import { InvalidToken, PortcullisError } from '../shared/errors'
import { toErrorResponse } from '../shared/oauth-error-response'
import { authorizeRequest } from './authorize'
import { answerFailedNavigation, readBrowserRequest, withSignInMarkerCleared, type BrowserRequest } from './browser-answers'
import { InvalidDpopProof } from '../shared/dpop-errors'
import { DpopReplayCache } from '../shared/dpop-replay-cache'
import { checkSenderConstraint } from './check-sender-constraint'
import { parseEdgeConfig, type EdgeConfig } from './config'
import { extractAccessToken } from './extract-token'
import {
  buildOriginRequestHeaders,
  forwardToOrigin,
  identityHeaderNames,
  isWebSocketHandshake,
  type CredentialsToStrip,
  type IdentityHeaderNames,
} from './forward-to-origin'
import { checkRevocation } from './is-revoked'
import { JwksCache } from './jwks'
import { serverTimingHeader, writeRequestLog, type RequestLogEntry } from './request-log'
import { revocationHubClient } from './revocation-hub'
import { RevocationList } from './revocations'
import { matchRoute, normalizeRequestPath } from './routes'
import type { VerifiedToken } from './verified-token'
import { VerifiedTokenCache } from './verified-token-cache'
import { AccessTokenVerifier } from './verify-access-token'

/** Everything the edge keeps per isolate: parsed config, the verifier (keys, verified tokens), revocations. */
interface EdgeState {
  config: EdgeConfig
  identityHeaders: IdentityHeaderNames
  /** The credentials kept from origins, per kind of route; central's own routes get them unchanged. */
  credentialsToStrip: { protectedRoute: CredentialsToStrip | undefined; publicRoute: CredentialsToStrip }
  jwks: JwksCache
  verifier: AccessTokenVerifier
  /** Undefined when no EDGE_FEED_TOKEN is configured (the feed is off). */
  revocations: RevocationList | undefined
  /** DPoP proofs seen by this isolate within their window (RFC 9449 §11.1; per isolate, see DpopReplayCache). */
  dpopReplay: DpopReplayCache
}

let state: EdgeState | undefined

/** Parses `env` on the first request of an isolate; an invalid config fails every request with 500. */
function loadEdgeState(env: Env): EdgeState {
  if (state) return state
  const config = parseEdgeConfig(env as unknown as Record<string, unknown>)
  const tokens = new VerifiedTokenCache(config.verifiedTokenCacheSize)
  const jwks = new JwksCache(config.jwks, {
    refetchCooldownMs: config.jwksRefetchCooldownSeconds * 1000,
    maxAgeMs: config.jwksMaxAgeSeconds * 1000,
    fetchTimeoutMs: config.jwksTimeoutMs,
    // A key that leaves the JWKS takes its cached tokens with it.
    onKeySetChanged: (kids) => tokens.retainKeys(kids),
  })
  const verifier = new AccessTokenVerifier(
    accessTokenRules({ issuer: config.issuer, clockToleranceSeconds: config.clockToleranceSeconds }),
    jwks,
    tokens,
  )
  // With the Durable Object binding, isolates ask their location's hub; without it (self-hosted
  // workerd), each polls central itself.
  const hub = (env as Partial<Env>).REVOCATION_HUB
  const revocations = config.revocation
    ? new RevocationList(config.revocation, {
        askHub: hub ? revocationHubClient(hub) : undefined,
        // The feed says the key set changed: the JWKS is refetched at once, past its cooldown.
        onKeySetChanged: (nowMs) => jwks.refreshForKeySetChange(nowMs),
      })
    : undefined
  if (!revocations) {
    console.warn(
      JSON.stringify({ level: 'warn', msg: 'revocation feed off (EDGE_FEED_TOKEN unset): revoked access tokens stay valid until they expire' }),
    )
  }
  const credentialsToStrip = {
    // FORWARD_AUTHORIZATION is for protected origins that re-verify the token; it never sends the
    // token to a public origin, which verified nothing and may be a third party.
    protectedRoute: config.forwardAuthorization ? undefined : { cookieName: config.accessTokenCookie, authorization: 'any' as const },
    publicRoute: { cookieName: config.accessTokenCookie, authorization: 'bearer' as const },
  }
  state = {
    config,
    identityHeaders: identityHeaderNames(config.identityHeaderPrefix),
    credentialsToStrip,
    jwks,
    verifier,
    revocations,
    dpopReplay: new DpopReplayCache(),
  }
  return state
}

/**
 * The request path at the edge, in order: match → extract → verify → revoked? → authorize →
 * forward. Each step throws a `PortcullisError`; `toErrorResponse` is the one place
 * that turns it into an RFC 6750 answer, except for a page load on a `browser` route, which
 * `answerFailedNavigation` sends to sign-in or answers with a page.
 */
async function handleEdgeRequest(request: Request, env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> {
  const startedMs = Date.now()
  const url = new URL(request.url)
  const log: RequestLogEntry = { msg: 'edge request', method: request.method, path: url.pathname }
  let realm = 'portcullis'
  let debug = false
  let browser: BrowserRequest | undefined
  let response: Response
  try {
    const { config, identityHeaders, credentialsToStrip, jwks, verifier, revocations, dpopReplay } = loadEdgeState(env)
    realm = config.realm
    debug = config.debug

    // 1. match: on the normalized path, which is also exactly the path forwarded.
    const path = normalizeRequestPath(url.pathname)
    log.path = path
    const route = matchRoute(config.routes, request.method, path)
    log.route = route.prefix
    // 1b. browser routes: is this a page load, and did the edge just send it to sign in? (answered in the catch)
    if (route.browser) browser = readBrowserRequest(request, url, path)

    let verifiedToken: VerifiedToken | undefined
    if (!route.public) {
      // 2. extract
      const { token, presentedAs } = extractAccessToken(request, url, config.accessTokenCookie)
      // The feed loads (cold isolate) while the token is verified; warm, this never waits.
      const feed = revocations?.stateForRequest(Date.now(), (promise) => ctx.waitUntil(promise), request.cf?.colo)
      // 3. verify
      const verifyStartedMs = Date.now()
      const verified = await verifier.verify(token, verifyStartedMs)
      verifiedToken = verified.token
      const claims = verified.token.claims
      log.tokenCache = verified.fromCache ? 'hit' : 'miss'
      log.verifyMs = Date.now() - verifyStartedMs
      log.sub = claims.sub
      log.sid = claims.sid
      // 3b. sender constraint: a DPoP-bound token needs a proof of its key for this very request.
      log.senderConstrained = await checkSenderConstraint(
        { presentedAs, token, claims, routeRequiresDpop: route.dpop === 'required', proof: request.headers.get('DPoP'), method: request.method, url: request.url, nowMs: Date.now() },
        { proofMaxAgeSeconds: config.dpop.proofMaxAgeSeconds, clockToleranceSeconds: config.clockToleranceSeconds, replayGuard: dpopReplay },
      )
      // 4. revoked? Checked on every request, cache hit or not.
      // Awaited only on a cold or long-idle isolate (see RevocationList.stateForRequest).
      const revocation = checkRevocation(revocations, feed instanceof Promise ? await feed : feed, claims, Date.now())
      if (revocation.kind === 'revoked') {
        verifier.forget(token)
        throw new InvalidToken('access token has been revoked', { reason: 'revoked' })
      }
      log.revocationFeed = revocation.feed
      // 5. authorize
      authorizeRequest(route, verifiedToken)
    }

    // 6. forward
    const webSocket = isWebSocketHandshake(request)
    const headers = buildOriginRequestHeaders(request.headers, {
      identityHeaders,
      identity: verifiedToken?.identity,
      // Central reads the access token itself (/auth/logout, /auth/sessions); every other origin is
      // kept from it, public ones included (the README: public routes are forwarded without a token).
      stripCredentials: route.central ? undefined : route.public ? credentialsToStrip.publicRoute : credentialsToStrip.protectedRoute,
      clientAddress: request.headers.get('CF-Connecting-IP'),
      requestUrl: url,
      webSocket,
    })
    const originStartedMs = Date.now()
    response = await forwardToOrigin(request, {
      targetUrl: `${route.origin}${path}${url.search}`,
      headers,
      timeoutMs: config.originTimeoutMs,
    })
    log.originMs = Date.now() - originStartedMs
    // 6b. browser routes: the token was valid, so the sign-in loop marker has done its job.
    if (browser?.signInMarker) response = withSignInMarkerCleared(response, browser)

    // Keys older than their max age are refreshed after the response, never in front of it.
    const refresh = jwks.refreshIfStale(Date.now())
    if (refresh) ctx.waitUntil(refresh)
  } catch (error) {
    // Browser routes: a page load without a valid token goes to sign-in; one lacking rights gets a 403 page.
    response = browser?.navigation ? await answerFailedNavigation(error, browser, { realm }) : toErrorResponse(error, { realm })
    if (error instanceof PortcullisError) {
      log.error = error.code
      log.reason = error.message
      if (error instanceof InvalidToken && error.reason) log.tokenReason = error.reason
      if (error instanceof InvalidDpopProof) log.dpopReason = error.reason
    } else {
      log.error = 'server_error'
      console.error(JSON.stringify({ msg: 'edge failure', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }))
    }
  }
  log.status = response.status
  log.totalMs = Date.now() - startedMs
  writeRequestLog(log)
  if (debug && response.status !== 101) {
    response = new Response(response.body, response)
    response.headers.set('Server-Timing', serverTimingHeader(log))
  }
  return response
}

const app = new Hono<{ Bindings: Env }>()
app.all('*', (c) => handleEdgeRequest(c.req.raw, c.env, c.executionCtx))

export default app
/** The per-location revocation hub; wrangler needs the Durable Object class exported by the entry module. */
export { RevocationHub } from './revocation-hub'
