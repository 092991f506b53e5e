import { describe, expect, it } from 'vitest'
import { answerFailedNavigation, decideBrowserAnswer, readBrowserRequest } from '../../edge/browser-answers'
import { isBrowserNavigation } from '../../edge/browser-navigation'
import { InsufficientScope, InvalidRequest, InvalidToken, ServiceUnavailable } from '../../shared/errors'

/** What Chromium sends when a person opens a page. */
const CHROMIUM_PAGE_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7'
/** Firefox before Fetch Metadata (< 90): image/webp at q=1 beside HTML. */
const OLD_FIREFOX_PAGE_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8'
const navigate = { 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document', 'Sec-Fetch-Site': 'none', 'Sec-Fetch-User': '?1' }

describe('isBrowserNavigation', () => {
  it.each<[string, string, Record<string, string>, boolean]>([
    ['a Chromium page load', 'GET', { ...navigate, Accept: CHROMIUM_PAGE_ACCEPT }, true],
    ['a page load by HEAD', 'HEAD', { ...navigate, Accept: CHROMIUM_PAGE_ACCEPT }, true],
    ['navigate without Sec-Fetch-Dest', 'GET', { 'Sec-Fetch-Mode': 'navigate' }, true],
    ['navigate with Accept */*', 'GET', { ...navigate, Accept: '*/*' }, true],
    ['a form post (navigate, POST)', 'POST', { ...navigate, Accept: CHROMIUM_PAGE_ACCEPT }, false],
    ['a PUT', 'PUT', { Accept: 'text/html' }, false],
    ['an iframe load', 'GET', { ...navigate, 'Sec-Fetch-Dest': 'iframe', Accept: CHROMIUM_PAGE_ACCEPT }, false],
    ['fetch() (cors)', 'GET', { 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty', Accept: '*/*' }, false],
    ['fetch() same-origin asking for HTML', 'GET', { 'Sec-Fetch-Mode': 'same-origin', 'Sec-Fetch-Dest': 'empty', Accept: 'text/html' }, false],
    ['an image (no-cors)', 'GET', { 'Sec-Fetch-Mode': 'no-cors', 'Sec-Fetch-Dest': 'image', Accept: 'image/avif,image/webp,*/*' }, false],
    ['a forged navigate asking for JSON', 'GET', { 'Sec-Fetch-Mode': 'navigate', Accept: 'application/json' }, false],
    ['Fetch Metadata without a mode', 'GET', { 'Sec-Fetch-Site': 'same-origin', Accept: 'text/html' }, false],
    ['old browser: Accept text/html', 'GET', { Accept: 'text/html' }, true],
    ['old Firefox page load', 'GET', { Accept: OLD_FIREFOX_PAGE_ACCEPT }, true],
    ['old browser: XHTML first', 'GET', { Accept: 'application/xhtml+xml, text/html;q=0.9' }, true],
    ['an API client asking for JSON', 'GET', { Accept: 'application/json' }, false],
    ['JSON and HTML at the same q', 'GET', { Accept: 'application/json, text/html' }, false],
    ['a problem+json client', 'GET', { Accept: 'application/problem+json, text/html;q=0.5' }, false],
    ['HTML below another type', 'GET', { Accept: 'text/plain, text/html;q=0.5' }, false],
    ['HTML refused (q=0)', 'GET', { Accept: 'text/html;q=0, */*' }, false],
    ['HTML with a malformed q', 'GET', { Accept: 'text/html;q=high' }, false],
    ['curl (Accept */*)', 'GET', { Accept: '*/*' }, false],
    ['no headers at all', 'GET', {}, false],
    ['HTML preferred over JSON', 'GET', { Accept: 'text/html, application/json;q=0.5' }, true],
  ])('%s → %s', (_name, method, headers, expected) => {
    expect(isBrowserNavigation(method, new Headers(headers))).toBe(expected)
  })
})

describe('decideBrowserAnswer', () => {
  it.each<[string, unknown, boolean, string]>([
    ['no token', InvalidToken.missing(), false, 'sign-in'],
    ['an expired token', new InvalidToken('token has expired', { reason: 'expired' }), false, 'sign-in'],
    ['a revoked token', new InvalidToken('access token has been revoked', { reason: 'revoked' }), false, 'sign-in'],
    ['no token right after sign-in', InvalidToken.missing(), true, 'sign-in-loop'],
    ['a token for another audience', new InvalidToken('audience', { reason: 'audience_mismatch' }), false, 'forbidden'],
    ['a token for another audience right after sign-in', new InvalidToken('audience', { reason: 'audience_mismatch' }), true, 'forbidden'],
    ['a missing scope', new InsufficientScope('token lacks the scope x', 'x'), false, 'forbidden'],
    ['a malformed request', new InvalidRequest('bad path'), false, 'oauth-error'],
    ['an outage', new ServiceUnavailable('revocation feed unavailable'), true, 'oauth-error'],
    ['a bug', new TypeError('boom'), false, 'oauth-error'],
  ])('%s → %s', (_name, error, signInMarker, expected) => {
    expect(decideBrowserAnswer(error, signInMarker)).toBe(expected)
  })
})

describe('browser answers over https', () => {
  it('marks the loop-marker cookie Secure and keeps the https return_to', async () => {
    const request = new Request('https://app.example.com/app/x?y=1', { headers: navigate })
    const browser = readBrowserRequest(request, new URL(request.url), '/app/x')
    const response = await answerFailedNavigation(InvalidToken.missing(), browser, { realm: 'portcullis' })
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/auth/sign-in?return_to=https%3A%2F%2Fapp.example.com%2Fapp%2Fx%3Fy%3D1')
    expect(response.headers.get('Set-Cookie')).toBe('portcullis_signin=1; Max-Age=120; Path=/; HttpOnly; Secure; SameSite=Lax')
  })
})
