import { describe, expect, it } from 'vitest'
import { EdgeConfigError, parseEdgeConfig } from '../../edge/config'
import { matchRoute } from '../../edge/routes'

const base = {
  ISSUER: 'https://auth.example.com',
  JWKS_URL: 'https://auth.example.com/.well-known/jwks.json',
  CENTRAL_URL: 'https://auth.example.com',
  ROUTES: JSON.stringify([{ prefix: '/api/', origin: 'https://api.internal', audience: 'api' }]),
}

function problemsOf(env: Record<string, unknown>): string[] {
  try {
    parseEdgeConfig(env)
  } catch (error) {
    if (error instanceof EdgeConfigError) return error.problems
    throw error
  }
  throw new Error('expected the configuration to be rejected')
}

describe('parseEdgeConfig', () => {
  it('applies the documented defaults', () => {
    const config = parseEdgeConfig(base)
    expect(config).toMatchObject({
      identityHeaderPrefix: 'X-Portcullis-',
      accessTokenCookie: 'portcullis_at',
      clockToleranceSeconds: 30,
      originTimeoutMs: 30_000,
      forwardAuthorization: false,
      debug: false,
      realm: 'portcullis',
      jwks: { kind: 'remote', url: base.JWKS_URL },
    })
  })

  it('adds central prefixes forwarded to CENTRAL_URL as public routes', () => {
    const config = parseEdgeConfig(base)
    for (const path of ['/auth/login', '/oauth/token', '/.well-known/jwks.json']) {
      expect(matchRoute(config.routes, 'POST', path)).toMatchObject({ central: true, public: true, origin: 'https://auth.example.com' })
    }
  })

  it('accepts ROUTES as an already-parsed array (TOML table) and a static JWKS without JWKS_URL', () => {
    const config = parseEdgeConfig({
      ...base,
      JWKS_URL: undefined,
      JWKS: '{"keys":[]}',
      ROUTES: [{ prefix: '/x/', origin: 'http://127.0.0.1:1', public: true, methods: ['get'] }],
    })
    expect(config.jwks).toEqual({ kind: 'static', keys: [] })
    expect(config.routes[0]).toMatchObject({ prefix: '/x/', methods: ['GET'], public: true })
  })

  it('names the route entry, by index and prefix, whose audience is missing', () => {
    const problems = problemsOf({ ...base, ROUTES: JSON.stringify([{ prefix: '/ok/', origin: 'http://a.test', public: true }, { prefix: '/api/', origin: 'http://a.test' }]) })
    expect(problems).toEqual(['ROUTES[1] (prefix "/api/").audience: is required unless "public" is true'])
  })

  it('names an origin with a path, an unknown key and a dot-segment prefix', () => {
    const problems = problemsOf({
      ...base,
      ROUTES: JSON.stringify([
        { prefix: '/a/', origin: 'http://a.test/base', audience: 'a' },
        { prefix: '/b/', origin: 'http://b.test', audience: 'b', scope: 'typo' },
        { prefix: '/c/../d/', origin: 'http://c.test', audience: 'c' },
      ]),
    })
    expect(problems[0]).toMatch(/^ROUTES\[0\] \(prefix "\/a\/"\)\.origin: must be a bare http\(s\) origin/)
    expect(problems[1]).toMatch(/^ROUTES\[1\] \(prefix "\/b\/"\)/)
    expect(problems[1]).toMatch(/scope/)
    expect(problems[2]).toMatch(/^ROUTES\[2\] \(prefix "\/c\/..\/d\/"\)\.prefix: must not contain "\." or "\.\." segments/)
  })

  it('rejects duplicate prefixes with overlapping methods and routes over central paths', () => {
    const problems = problemsOf({
      ...base,
      ROUTES: JSON.stringify([
        { prefix: '/api/', origin: 'http://a.test', audience: 'a', methods: ['GET'] },
        { prefix: '/api/', origin: 'http://a.test', audience: 'a', methods: ['POST'] },
        { prefix: '/api/', origin: 'http://a.test', audience: 'a' },
        { prefix: '/oauth/x/', origin: 'http://a.test', public: true },
      ]),
    })
    expect(problems).toEqual([
      'ROUTES[2] (prefix "/api/"): duplicates ROUTES[0] for the same prefix and methods',
      'ROUTES[3] (prefix "/oauth/x/").prefix: is reserved for central (/auth/, /oauth/, /.well-known/)',
    ])
  })

  it('refuses prefixes that differ only by case when their methods overlap, naming both entries', () => {
    const problems = problemsOf({
      ...base,
      ROUTES: JSON.stringify([
        { prefix: '/api/orders/', origin: 'http://a.test', audience: 'a', methods: ['POST'] },
        { prefix: '/api/Orders/', origin: 'http://a.test', audience: 'a', methods: ['GET'] },
        { prefix: '/API/ORDERS/', origin: 'http://a.test', audience: 'a' },
      ]),
    })
    expect(problems).toEqual([
      'ROUTES[2] (prefix "/API/ORDERS/"): differs only in letter case from ROUTES[0] (prefix "/api/orders/") with overlapping methods; routes are matched case-insensitively, so which one applies would be ambiguous',
    ])
  })

  it('accepts a prefix with capitals, matched case-insensitively', () => {
    const config = parseEdgeConfig({ ...base, ROUTES: JSON.stringify([{ prefix: '/API/', origin: 'https://api.internal', audience: 'api' }]) })
    expect(matchRoute(config.routes, 'GET', '/api/me')).toMatchObject({ index: 0, prefix: '/API/' })
  })

  it('refuses a prefix with a path parameter (";"), which no request path could match', () => {
    const problems = problemsOf({ ...base, ROUTES: JSON.stringify([{ prefix: '/api;v=1/', origin: 'http://a.test', audience: 'a' }]) })
    expect(problems).toEqual(['ROUTES[0] (prefix "/api;v=1/").prefix: must not contain ";" (path parameters are ignored when routes are matched)'])
  })

  it('keeps central paths reserved in any letter case', () => {
    const problems = problemsOf({ ...base, ROUTES: JSON.stringify([{ prefix: '/OAuth/token/', origin: 'http://a.test', public: true }]) })
    expect(problems).toEqual(['ROUTES[0] (prefix "/OAuth/token/").prefix: is reserved for central (/auth/, /oauth/, /.well-known/)'])
  })

  it('names invalid variables', () => {
    const problems = problemsOf({ ...base, ISSUER: 'not a url', ROUTES: '[oops', CLOCK_TOLERANCE_SECONDS: '-1' })
    expect(problems.some((problem) => problem.startsWith('ISSUER:'))).toBe(true)
    expect(problems).toContain('ROUTES: is not valid JSON')
    expect(problems.some((problem) => problem.startsWith('CLOCK_TOLERANCE_SECONDS:'))).toBe(true)
  })

  it('requires JWKS_URL unless a static JWKS is configured', () => {
    expect(problemsOf({ ...base, JWKS_URL: undefined })).toEqual(['JWKS_URL: is required unless a static JWKS is configured'])
  })
})
