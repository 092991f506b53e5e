import { html } from 'hono/html'
import { parse, serialize } from 'hono/utils/cookie'
import { InsufficientScope, InvalidToken } from '../shared/errors'
import { bearerChallenge, toErrorResponse } from '../shared/oauth-error-response'
import { isBrowserNavigation } from './browser-navigation'
import { SIGN_IN_MARKER_COOKIE } from '../shared/sign-in-marker'

/** Central's hosted sign-in: rotates the refresh cookie silently when it can, else shows the sign-in page. */
export const SIGN_IN_PATH = '/auth/sign-in'
/** Central's sign-out: clears the session cookies, then continues to `return_to`. */
export const SIGN_OUT_PATH = '/auth/sign-out'
export { SIGN_IN_MARKER_COOKIE }
/** Long enough for a silent rotation round trip, short enough that a later visit starts afresh. */
export const SIGN_IN_MARKER_MAX_AGE_SECONDS = 120

/**
 * Scripts could run nowhere on these pages; no framing (they carry a sign-in link), no base or form
 * target to inject.
 */
const PAGE_CONTENT_SECURITY_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** What the edge knows about a request on a `browser` route before it checks the token. */
export interface BrowserRequest {
  /** A top-level page load (`isBrowserNavigation`): failures are answered with pages. */
  navigation: boolean
  /**
   * Where sign-in returns to: the edge's own URL (scheme and host as the client used them, the
   * normalized path, the query). Never a header such as `Referer` or `X-Forwarded-Host`, so the
   * edge cannot be turned into an open redirect.
   */
  returnTo: string
  /** The edge sent this browser to sign in moments ago. */
  signInMarker: boolean
  /** Cookies the edge sets get `Secure` when the client came over https. */
  secure: boolean
}

/** Reads what a `browser` route needs from the request; `path` is the normalized path that is forwarded. */
export function readBrowserRequest(request: Request, url: URL, path: string): BrowserRequest {
  return {
    navigation: isBrowserNavigation(request.method, request.headers),
    returnTo: `${url.protocol}//${url.host}${path}${url.search}`,
    signInMarker: parse(request.headers.get('Cookie') ?? '', SIGN_IN_MARKER_COOKIE)[SIGN_IN_MARKER_COOKIE] !== undefined,
    secure: url.protocol === 'https:',
  }
}

/**
 * How a failed page load on a `browser` route is answered. No valid token → sign in (or, when the
 * edge just sent this browser there, the loop page); a valid token without the route's audience,
 * scope or role → the forbidden page, never a redirect (silent rotation would bring the same
 * token back); anything else (malformed request, outage) → the RFC 6750 / JSON answer as for scripts.
 */
export type BrowserAnswerKind = 'sign-in' | 'sign-in-loop' | 'forbidden' | 'oauth-error'

/** Pure: the failure and whether the loop marker came with the request → the kind of answer. */
export function decideBrowserAnswer(error: unknown, signInMarker: boolean): BrowserAnswerKind {
  if (error instanceof InsufficientScope) return 'forbidden'
  if (error instanceof InvalidToken) {
    if (error.reason === 'audience_mismatch') return 'forbidden'
    return signInMarker ? 'sign-in-loop' : 'sign-in'
  }
  return 'oauth-error'
}

/**
 * The answer to a top-level navigation on a `browser` route that failed: a 302 to central's sign-in,
 * the sign-in loop page (401) or the forbidden page (403); other failures as `toErrorResponse`.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15.4.3
 */
export async function answerFailedNavigation(error: unknown, browser: BrowserRequest, options: { realm: string }): Promise<Response> {
  const signInUrl = `${SIGN_IN_PATH}?return_to=${encodeURIComponent(browser.returnTo)}`
  switch (decideBrowserAnswer(error, browser.signInMarker)) {
    case 'sign-in':
      return new Response(null, {
        status: 302,
        headers: { Location: signInUrl, 'Cache-Control': 'no-store', 'Set-Cookie': signInMarkerCookie(browser.secure, 'set') },
      })
    case 'sign-in-loop': {
      const response = await pageResponse(401, {
        title: 'Sign-in did not complete',
        explanation:
          'You were just sent to sign in, but came back without a session this site accepts. ' +
          'Your browser may be blocking cookies for this site, or your sign-in could not be used here.',
        link: { href: signInUrl, text: 'Try signing in again' },
      })
      // RFC 9110 §15.5.2: a 401 carries a challenge.
      response.headers.set('WWW-Authenticate', bearerChallenge(error instanceof InvalidToken ? error : undefined, options.realm))
      response.headers.append('Set-Cookie', signInMarkerCookie(browser.secure, 'clear'))
      return response
    }
    case 'forbidden': {
      const response = await pageResponse(403, {
        title: 'Access denied',
        explanation:
          'You are signed in, but your account is not allowed to open this page. ' +
          'Ask an administrator for access, or sign in with a different account.',
        link: { href: `${SIGN_OUT_PATH}?return_to=${encodeURIComponent(browser.returnTo)}`, text: 'Sign in with a different account' },
      })
      if (browser.signInMarker) response.headers.append('Set-Cookie', signInMarkerCookie(browser.secure, 'clear'))
      return response
    }
    case 'oauth-error':
      return toErrorResponse(error, options)
  }
}

/** The origin's response, plus a `Set-Cookie` that deletes the loop marker: the sign-in worked. */
export function withSignInMarkerCleared(response: Response, browser: BrowserRequest): Response {
  // A WebSocket handshake's response cannot be rebuilt; the marker then just expires.
  if (response.status === 101) return response
  const cleared = new Response(response.body, response)
  cleared.headers.append('Set-Cookie', signInMarkerCookie(browser.secure, 'clear'))
  return cleared
}

/** `portcullis_signin`: HttpOnly, SameSite=Lax (it must come back on the redirect from sign-in), Path=/. */
function signInMarkerCookie(secure: boolean, action: 'set' | 'clear'): string {
  return serialize(SIGN_IN_MARKER_COOKIE, action === 'set' ? '1' : '', {
    path: '/',
    httpOnly: true,
    sameSite: 'Lax',
    secure,
    maxAge: action === 'set' ? SIGN_IN_MARKER_MAX_AGE_SECONDS : 0,
  })
}

interface PageContent {
  title: string
  explanation: string
  link: { href: string; text: string }
}

/** A small static page: no script, no style, every value escaped by `html`, nothing from the token. */
async function pageResponse(status: number, page: PageContent): Promise<Response> {
  const body = await html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${page.title}</title>
</head>
<body>
<main>
<h1>${page.title}</h1>
<p>${page.explanation}</p>
<p><a href="${page.link.href}">${page.link.text}</a></p>
</main>
</body>
</html>
`
  return new Response(String(body), {
    status,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': PAGE_CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    },
  })
}
