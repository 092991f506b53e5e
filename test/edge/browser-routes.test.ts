import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { EdgeConfigError, parseEdgeConfig } from '../../edge/config'
import { TEST_ISSUER, createSigningKey, signAccessToken, startJwksServer, type JwksServer, type TestSigningKey } from '../support/edge-keys'
import { startOrigin, type TestOrigin } from '../support/edge-origin'
import { startEdge, type RunningEdge } from '../support/edge-worker'
import { FEED_TOKEN, startFakeFeed, type FakeFeed } from '../support/fake-revocation-feed'

/** Host the tests use; return_to must carry it as the client sent it. */
const HOST = 'app.example.test'
const PAGE_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
const NAVIGATE = { 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document', 'Sec-Fetch-Site': 'none', Accept: PAGE_ACCEPT }
const MARKER = 'portcullis_signin=1'
const MARKER_SET = 'portcullis_signin=1; Max-Age=120; Path=/; HttpOnly; SameSite=Lax'
const MARKER_CLEARED = 'portcullis_signin=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax'

let edge: RunningEdge
let origin: TestOrigin
let jwks: JwksServer
let key: TestSigningKey
let feed: FakeFeed

beforeAll(async () => {
  key = await createSigningKey('key-1')
  jwks = await startJwksServer([key.publicJwk])
  origin = await startOrigin()
  feed = await startFakeFeed({ version: 'v1', sessions: [{ sid: 'sid-revoked', revoked_at: 1 }] })
  edge = await startEdge({
    ISSUER: TEST_ISSUER,
    JWKS_URL: jwks.url,
    CENTRAL_URL: origin.url,
    EDGE_FEED_TOKEN: FEED_TOKEN,
    REVOCATION_FEED_URL: feed.url,
    ROUTES: JSON.stringify([
      { prefix: '/app/', origin: origin.url, audience: 'demo-api', browser: true },
      { prefix: '/app/reports/', origin: origin.url, audience: 'demo-api', scopes: ['reports:read'], browser: true },
      { prefix: '/app/other/', origin: origin.url, audience: 'other-api', browser: true },
      { prefix: '/api/', origin: origin.url, audience: 'demo-api' },
    ]),
  })
  // The feed loads on the isolate's first requests; the revoked-session test needs it loaded.
  const revoked = await signAccessToken(key, { sid: 'sid-revoked' })
  for (let attempt = 0; (await send('/api/me', withToken(revoked))).status !== 401; attempt++) {
    if (attempt > 50) throw new Error('the revocation feed never loaded')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
})
afterAll(async () => {
  await edge.dispose()
  await origin.close()
  await jwks.close()
  await feed.close()
})
beforeEach(() => {
  origin.requests.length = 0
})

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/**
 * A request over plain node:http: fetch would add `Sec-Fetch-Mode: cors` and follow redirects, and
 * the Host header must be the one the test chooses.
 */
function send(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: edge.url.hostname, port: edge.url.port, path, method, headers: { Host: HOST, ...headers } },
      (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (body += chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }))
      },
    )
    request.on('error', reject)
    request.end()
  })
}

const signInLocation = (returnTo: string) => `/auth/sign-in?return_to=${encodeURIComponent(returnTo)}`
const withToken = (token: string, headers: Record<string, string> = {}, cookies: string[] = []) => ({
  ...headers,
  Cookie: [`portcullis_at=${token}`, ...cookies].join('; '),
})

/** The sign-in redirect: exact Location, not cached, the loop marker set, nothing forwarded. */
function expectSignInRedirect(answer: Answer, returnTo: string) {
  expect(answer.status).toBe(302)
  expect(answer.headers.location).toBe(signInLocation(returnTo))
  expect(answer.headers['cache-control']).toBe('no-store')
  expect(answer.headers['set-cookie']).toEqual([MARKER_SET])
  expect(origin.requests).toHaveLength(0)
}

/** A page: HTML, not cached, no script allowed, a language and a title. */
function expectPage(answer: Answer, status: number) {
  expect(answer.status).toBe(status)
  expect(answer.headers['content-type']).toBe('text/html; charset=utf-8')
  expect(answer.headers['cache-control']).toBe('no-store')
  expect(answer.headers['content-security-policy']).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
  expect(answer.headers['x-content-type-options']).toBe('nosniff')
  expect(answer.body).toMatch(/^<!doctype html>\n<html lang="en">/)
  expect(answer.body).toMatch(/<title>[^<]+<\/title>/)
  expect(answer.body).not.toMatch(/<script/i)
  expect(origin.requests).toHaveLength(0)
}

/** RFC 6750 as on any other route: JSON, a Bearer challenge, no page, no redirect, no marker. */
function expectBearerAnswer(answer: Answer, status: number, error?: string) {
  expect(answer.status).toBe(status)
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8')
  expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="portcullis"/)
  if (error) {
    expect(JSON.parse(answer.body)).toMatchObject({ error })
    expect(answer.headers['www-authenticate']).toContain(`error="${error}"`)
  }
  expect(answer.headers.location).toBeUndefined()
  expect(answer.headers['set-cookie']).toBeUndefined()
  expect(origin.requests).toHaveLength(0)
}

describe('browser route: a page load without a valid token goes to sign-in', () => {
  it('redirects a navigation without a token to /auth/sign-in with the original URL as return_to', async () => {
    expectSignInRedirect(await send('/app/dashboard?tab=orders&q=a%20b', NAVIGATE), `http://${HOST}/app/dashboard?tab=orders&q=a%20b`)
  })

  it('builds return_to from the normalized path and the Host the client used, never from Referer or X-Forwarded-Host', async () => {
    const answer = await send('/app/%7Ealice/%41', { ...NAVIGATE, Referer: 'https://evil.example/', 'X-Forwarded-Host': 'evil.example' })
    expectSignInRedirect(answer, `http://${HOST}/app/~alice/A`)
  })

  it('redirects a navigation whose access-token cookie has expired', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired = await signAccessToken(key, { iat: now - 900, exp: now - 300 })
    const answer = await send('/app/', withToken(expired, NAVIGATE))
    expectSignInRedirect(answer, `http://${HOST}/app/`)
    expect(answer.headers.location).not.toContain(expired)
  })

  it('redirects a navigation whose token has a bad signature', async () => {
    const forger = await createSigningKey('key-1')
    expectSignInRedirect(await send('/app/', withToken(await signAccessToken(forger), NAVIGATE)), `http://${HOST}/app/`)
  })

  it('redirects a navigation whose token belongs to a revoked session', async () => {
    const revoked = await signAccessToken(key, { sid: 'sid-revoked' })
    expectSignInRedirect(await send('/app/', withToken(revoked, NAVIGATE)), `http://${HOST}/app/`)
  })

  it('redirects an older browser that sends no Sec-Fetch-* but asks for HTML', async () => {
    expectSignInRedirect(await send('/app/page', { Accept: 'text/html' }), `http://${HOST}/app/page`)
  })

  it('redirects a HEAD navigation too', async () => {
    expectSignInRedirect(await send('/app/page', NAVIGATE, 'HEAD'), `http://${HOST}/app/page`)
  })
})

describe('browser route: scripts and API clients keep the RFC 6750 answer', () => {
  it('answers fetch() (Sec-Fetch-Mode: cors) with 401 and a Bearer challenge', async () => {
    expectBearerAnswer(await send('/app/data', { 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty', Accept: '*/*' }), 401)
  })

  it('answers an API client asking for JSON (no Sec-Fetch-*) with 401', async () => {
    expectBearerAnswer(await send('/app/data', { Accept: 'application/json' }), 401)
  })

  it('answers a form post (navigate, POST) with 401, not a redirect that would drop the body', async () => {
    expectBearerAnswer(await send('/app/form', NAVIGATE, 'POST'), 401)
  })

  it('answers a script with an expired token with 401 invalid_token', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired = await signAccessToken(key, { iat: now - 900, exp: now - 300 })
    expectBearerAnswer(await send('/app/data', withToken(expired, { 'Sec-Fetch-Mode': 'cors' })), 401, 'invalid_token')
  })

  it('keeps the loop marker for a script: only a page load ends the sign-in loop', async () => {
    expectBearerAnswer(await send('/app/data', { 'Sec-Fetch-Mode': 'cors', Cookie: MARKER }), 401)
  })
})

describe('browser route: sign-in loop protection', () => {
  it('answers a navigation that still has no valid token while the marker is set with a 401 page, and clears the marker', async () => {
    const answer = await send('/app/dashboard?tab=1', { ...NAVIGATE, Cookie: MARKER })
    expectPage(answer, 401)
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="portcullis"')
    expect(answer.headers['set-cookie']).toEqual([MARKER_CLEARED])
    expect(answer.headers.location).toBeUndefined()
    expect(answer.body).toContain('cookies')
    // The link back to sign-in, its query escaped for HTML.
    expect(answer.body).toContain(`<a href="${signInLocation(`http://${HOST}/app/dashboard?tab=1`)}">`)
  })

  it('never echoes the token on the loop page', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired = await signAccessToken(key, { iat: now - 900, exp: now - 300 })
    const answer = await send('/app/', withToken(expired, NAVIGATE, [MARKER]))
    expectPage(answer, 401)
    expect(answer.body).not.toContain(expired)
    expect(answer.headers['www-authenticate']).toContain('error="invalid_token"')
  })

  it('puts markup from the URL into the page only encoded', async () => {
    const answer = await send(`/app/x?a=%22%3E%3Cscript%3E&b='`, { ...NAVIGATE, Cookie: MARKER })
    expectPage(answer, 401)
    expect(answer.body).toContain(`<a href="${signInLocation(`http://${HOST}/app/x?a=%22%3E%3Cscript%3E&b=%27`)}">`)
  })

  it('forwards a request with a valid token and clears the marker on the way back, keeping the origin’s cookies', async () => {
    origin.handle = (_received, response) => {
      response.writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'app_pref=dark; Path=/app/' })
      response.end('<p>the app</p>')
    }
    try {
      const token = await signAccessToken(key, { sub: 'user-7' })
      const answer = await send('/app/dashboard', withToken(token, NAVIGATE, [MARKER]))
      expect(answer.status).toBe(200)
      expect(answer.body).toBe('<p>the app</p>')
      expect(answer.headers['set-cookie']).toEqual(['app_pref=dark; Path=/app/', MARKER_CLEARED])
      expect(origin.requests).toHaveLength(1)
      expect(origin.requests[0]!.headers['x-portcullis-sub']).toBe('user-7')
      expect(origin.requests[0]!.url).toBe('/app/dashboard')
    } finally {
      origin.handle = undefined
    }
  })

  it('adds no Set-Cookie to a successful request without the marker', async () => {
    const answer = await send('/app/dashboard', withToken(await signAccessToken(key), NAVIGATE))
    expect(answer.status).toBe(200)
    expect(answer.headers['set-cookie']).toBeUndefined()
    expect(origin.requests[0]!.headers['x-portcullis-sub']).toBe('user-123')
  })
})

describe('browser route: a valid token without the route’s rights', () => {
  it('answers a navigation lacking the scope with a 403 page, not a redirect (silent refresh would loop)', async () => {
    const answer = await send('/app/reports/q3', withToken(await signAccessToken(key), NAVIGATE, [MARKER]))
    expectPage(answer, 403)
    expect(answer.headers.location).toBeUndefined()
    expect(answer.headers['set-cookie']).toEqual([MARKER_CLEARED])
    expect(answer.body).toContain(`<a href="/auth/sign-out?return_to=${encodeURIComponent(`http://${HOST}/app/reports/q3`)}">`)
  })

  it('answers a navigation whose token is for another audience with a 403 page', async () => {
    const answer = await send('/app/other/', withToken(await signAccessToken(key), NAVIGATE))
    expectPage(answer, 403)
    expect(answer.headers['set-cookie']).toBeUndefined()
  })

  it('answers fetch() lacking the scope with the RFC 6750 403 insufficient_scope', async () => {
    const answer = await send('/app/reports/q3', withToken(await signAccessToken(key), { 'Sec-Fetch-Mode': 'cors', Accept: '*/*' }))
    expectBearerAnswer(answer, 403, 'insufficient_scope')
    expect(answer.headers['www-authenticate']).toContain('scope="reports:read"')
  })
})

describe('routes without "browser"', () => {
  it('answers a navigation without a token with the RFC 6750 401, as before', async () => {
    const answer = await send('/api/me', NAVIGATE)
    expectBearerAnswer(answer, 401)
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="portcullis"')
  })

  it('leaves the marker alone on a successful request', async () => {
    const answer = await send('/api/me', withToken(await signAccessToken(key), NAVIGATE, [MARKER]))
    expect(answer.status).toBe(200)
    expect(answer.headers['set-cookie']).toBeUndefined()
  })
})

describe('the "browser" route option', () => {
  const base = { ISSUER: 'https://auth.example.com', JWKS_URL: 'https://auth.example.com/.well-known/jwks.json', CENTRAL_URL: 'https://auth.example.com' }

  it('defaults to false and is kept on the parsed route', () => {
    const config = parseEdgeConfig({
      ...base,
      ROUTES: JSON.stringify([
        { prefix: '/app/', origin: 'https://app.internal', audience: 'app', browser: true },
        { prefix: '/api/', origin: 'https://api.internal', audience: 'api' },
      ]),
    })
    expect(config.routes.map((route) => [route.prefix, route.browser])).toEqual([
      ['/app/', true],
      ['/api/', false],
      ['/auth/', false],
      ['/oauth/', false],
      ['/.well-known/', false],
      ['/openapi.json', false],
    ])
  })

  it('refuses "browser" on a public route, naming the entry', () => {
    let problems: string[] = []
    try {
      parseEdgeConfig({ ...base, ROUTES: JSON.stringify([{ prefix: '/site/', origin: 'https://site.internal', public: true, browser: true }]) })
    } catch (error) {
      if (!(error instanceof EdgeConfigError)) throw error
      problems = error.problems
    }
    expect(problems).toEqual(['ROUTES[0] (prefix "/site/").browser: a public route never sends anyone to sign in, so it cannot be a browser route'])
  })

  it('refuses a "browser" value that is not a boolean', () => {
    expect(() =>
      parseEdgeConfig({ ...base, ROUTES: JSON.stringify([{ prefix: '/app/', origin: 'https://app.internal', audience: 'app', browser: 'yes' }]) }),
    ).toThrow(/ROUTES\[0\] \(prefix "\/app\/"\)\.browser:/)
  })
})
