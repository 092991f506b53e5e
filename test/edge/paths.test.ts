import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { normalizeRequestPath } from '../../edge/routes'
import { signAccessToken } from '../support/edge-keys'
import { startEdgeStack, type EdgeStack } from '../support/edge-stack'
import { rawRequest } from '../support/raw-request'

describe('normalizeRequestPath', () => {
  it('decodes percent-encoded unreserved characters and upper-cases other escapes', () => {
    expect(normalizeRequestPath('/%61pi/a%7eb/c%3ad')).toBe('/api/a~b/c%3Ad')
  })

  it.each([
    ['/api/../admin', /dot segments/],
    ['/api/./me', /dot segments/],
    ['/api/%2e%2e/admin', /dot segments/],
    ['/api/%2E./admin', /dot segments/],
    ['/api/..%2fadmin', /encoded slash/],
    ['/api%2Fadmin', /encoded slash/],
    ['/api/%5cadmin', /encoded slash/],
    ['/api/%252fadmin', /encoded slash/],
    ['/api\\..\\admin', /backslash/],
    ['/api//admin', /empty segments/],
    ['//admin', /empty segments/],
    ['/api/%zz', /malformed percent-escape/],
    // Tomcat, Jetty and Spring drop `;…` path parameters, then resolve what is left as `.`/`..`.
    ['/api/public/..;/me', /dot segments/],
    ['/api/public/..;x=1/me', /dot segments/],
    ['/api/.;x/me', /dot segments/],
    ['/api/public/%2e%2e;/me', /dot segments/],
    ['/api/public/.%2E;jsessionid=1/me', /dot segments/],
    ['/api/public/..;', /dot segments/],
    // …and merge the empty segment a bare parameter leaves: `/api/;x/orders` is `/api/orders` there.
    ['/api/;x/orders/new', /empty segments/],
    ['/;x/api/orders', /empty segments/],
    // An origin that decodes once more would read `@` and `:` there, after the route was chosen.
    ['/api/%2540admin/users', /double-encoded prefix character/],
    ['/api/items%25%33%41purge', /double-encoded prefix character/],
  ])('rejects %s', (path, message) => {
    expect(() => normalizeRequestPath(path)).toThrow(message)
  })

  it('keeps path parameters and letter case in the path it returns (the origin gets them unchanged)', () => {
    expect(normalizeRequestPath('/api/Orders;jsessionid=A1/7')).toBe('/api/Orders;jsessionid=A1/7')
    expect(normalizeRequestPath('/api/%4frders;v=1/..x/;')).toBe('/api/Orders;v=1/..x/;')
  })
})

describe('paths that try to cross route prefixes', () => {
  let stack: EdgeStack
  let apiToken: string
  beforeAll(async () => {
    stack = await startEdgeStack()
    // Valid for /api/ (audience demo-api) but not for /admin/ (audience admin-api).
    apiToken = await signAccessToken(stack.key)
  })
  afterAll(() => stack.close())
  beforeEach(() => {
    stack.origin.requests.length = 0
  })

  // Sent raw (node:http), so neither fetch nor miniflare can normalize them first. Whatever workerd
  // does to the URL, the origin must only ever see a path under the route the edge authorized.
  it.each([
    '/api/../admin/users',
    '/api/%2e%2e/admin/users',
    '/api/%2E%2E/admin/users',
    '/api/.%2e/admin/users',
    '/api/..%2fadmin/users',
    '/api/..%2Fadmin/users',
    '/api/%2e%2e%2fadmin/users',
    '/api/..%5cadmin/users',
    '/api/..\\admin/users',
    '/api//../admin/users',
    '/api/%252e%252e/admin/users',
    '/%61dmin/users',
    '/api/public/../../admin/users',
  ])('never lets %s reach /admin/ with a demo-api token', async (path) => {
    const { status } = await rawRequest(stack.edge.url, path, { Authorization: `Bearer ${apiToken}` })
    // Rejected, or (when the URL parser already resolved it inside /api/) forwarded under /api/.
    expect([200, 400, 401, 404]).toContain(status)
    for (const received of stack.origin.requests) expect(received.url).toMatch(/^\/api\//)
    if (status === 200) expect(stack.origin.requests).toHaveLength(1)
    else expect(stack.origin.requests).toHaveLength(0)
  })

  it('answers 400 invalid_request for an encoded slash instead of guessing', async () => {
    const { status, body } = await rawRequest(stack.edge.url, '/api/a%2Fb', { Authorization: `Bearer ${apiToken}` })
    expect(status).toBe(400)
    expect(JSON.parse(body)).toMatchObject({ error: 'invalid_request', error_description: 'request path must not contain an encoded slash or backslash' })
    expect(stack.origin.requests).toHaveLength(0)
  })

  it('forwards exactly the normalized path it authorized', async () => {
    const { status } = await rawRequest(stack.edge.url, '/%61pi/it%65ms/a%3ab?x=%2F', { Authorization: `Bearer ${apiToken}` })
    expect(status).toBe(200)
    expect(stack.origin.requests[0]?.url).toBe('/api/items/a%3Ab?x=%2F')
  })

  it('matches prefixes on whole segments: /apiv2 is not under /api/', async () => {
    const { status } = await rawRequest(stack.edge.url, '/apiv2/me', { Authorization: `Bearer ${apiToken}` })
    expect(status).toBe(404)
    expect(stack.origin.requests).toHaveLength(0)
  })

  /**
   * Paths that look like `/api/` (audience only) or the public `/api/public/`, while common origin
   * frameworks route them to `/api/orders/…` (POST needs the scope orders:write) or to the protected
   * `/api/me`. `apiToken` has the audience but not that scope.
   */
  describe('paths an origin framework resolves to a more restrictive route', () => {
    // Express and ASP.NET Core match routes case-insensitively by default; Tomcat, Jetty and Spring
    // strip `;x` path parameters. Either way the origin sees /api/orders/new.
    it.each(['/api/Orders/new', '/api/orders;x/new'])('applies the /api/orders/ scope check to POST %s', async (path) => {
      const { status, body } = await rawRequest(stack.edge.url, path, { Authorization: `Bearer ${apiToken}` }, 'POST')
      expect(status).toBe(403)
      expect(JSON.parse(body)).toMatchObject({ error: 'insufficient_scope', error_description: 'token lacks the scope orders:write' })
      expect(stack.origin.requests).toHaveLength(0)
    })

    // Tomcat and Spring resolve `..;` as `..`: the origin would serve the protected /api/me.
    it.each(['/api/public/..;/me', '/api/public/..;x=1/me', '/api/public/%2e%2e;/me'])(
      'answers 400 invalid_request to %s without a token, instead of treating it as public',
      async (path) => {
        const { status, body } = await rawRequest(stack.edge.url, path, {})
        expect(status).toBe(400)
        expect(JSON.parse(body)).toMatchObject({ error: 'invalid_request', error_description: 'request path must not contain dot segments' })
        expect(stack.origin.requests).toHaveLength(0)
      },
    )

    it('answers 400 invalid_request to an empty segment hidden behind a path parameter (/api/;x/orders/new)', async () => {
      const { status, body } = await rawRequest(stack.edge.url, '/api/;x/orders/new', { Authorization: `Bearer ${apiToken}` }, 'POST')
      expect(status).toBe(400)
      expect(JSON.parse(body)).toMatchObject({ error: 'invalid_request', error_description: 'request path must not contain empty segments' })
      expect(stack.origin.requests).toHaveLength(0)
    })

    // ASP.NET Core, Spring and Tomcat decode the path before routing: there `/api/%40admin/users` is
    // the `/api/@admin/` handler and `/api/items%3Apurge` the `/api/items:purge` one. Express 4
    // routes the path as sent, where they are not. Either route the edge picked, one kind of origin
    // would run a handler the edge did not check: such a path is refused.
    it.each(['/api/%40admin/users', '/api/%40Admin;x/users', '/api/items%3Apurge', '/api/items%3apurge', '/api/It%65ms%3APurge/7'])(
      'answers 400 invalid_request to %s, whose escapes pick another route once decoded',
      async (path) => {
        const { status, body } = await rawRequest(stack.edge.url, path, { Authorization: `Bearer ${apiToken}` }, 'POST')
        expect(status).toBe(400)
        expect(JSON.parse(body)).toMatchObject({
          error: 'invalid_request',
          error_description: 'request path is ambiguous: percent-encoded characters change which route applies',
        })
        expect(stack.origin.requests).toHaveLength(0)
      },
    )

    // Matching `/api/status%3Acheck` to the public `/api/status:check` route would forward it without
    // a token, and an Express 4 origin serves that path from its protected `/api/:id` handler.
    it('answers 400 invalid_request, without a token, to an escaped : that would make a protected path public', async () => {
      const { status, body } = await rawRequest(stack.edge.url, '/api/status%3Acheck', {})
      expect(status).toBe(400)
      expect(JSON.parse(body)).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/ambiguous/) })
      expect(stack.origin.requests).toHaveLength(0)
      expect((await rawRequest(stack.edge.url, '/api/status:check', {})).status).toBe(200)
      expect(stack.origin.requests.map((request) => request.url)).toEqual(['/api/status:check'])
    })

    // `%2540` is `%40` to an origin that decodes once, `@` to one (or a proxy in front) that decodes twice.
    it('answers 400 invalid_request to a double-encoded prefix character (/api/%2540admin/users)', async () => {
      const { status, body } = await rawRequest(stack.edge.url, '/api/%2540admin/users', { Authorization: `Bearer ${apiToken}` })
      expect(status).toBe(400)
      expect(JSON.parse(body)).toMatchObject({ error: 'invalid_request', error_description: 'request path must not contain a double-encoded prefix character' })
      expect(stack.origin.requests).toHaveLength(0)
    })

    it('forwards an escaped prefix character unchanged when it does not change the route', async () => {
      const admin = await signAccessToken(stack.key, { roles: ['portcullis:admin'] })
      const { status } = await rawRequest(stack.edge.url, '/api/@admin/a%3Ab%40c?x=1', { Authorization: `Bearer ${admin}` })
      expect(status).toBe(200)
      expect(stack.origin.requests.map((request) => request.url)).toEqual(['/api/@admin/a%3Ab%40c?x=1'])
    })

    it('forwards the path with its case and path parameters unchanged once authorized', async () => {
      const scoped = await signAccessToken(stack.key, { scope: 'orders:write' })
      const { status } = await rawRequest(stack.edge.url, '/api/Orders;jsessionid=A1/new?x=1', { Authorization: `Bearer ${scoped}` }, 'POST')
      expect(status).toBe(200)
      expect(stack.origin.requests.map((request) => request.url)).toEqual(['/api/Orders;jsessionid=A1/new?x=1'])
    })

    it('still matches prefixes on whole segments in the comparison form: /API;x/me is /api, /APIv2 is not', async () => {
      expect((await rawRequest(stack.edge.url, '/API;x/me', { Authorization: `Bearer ${apiToken}` })).status).toBe(200)
      expect(stack.origin.requests.map((request) => request.url)).toEqual(['/API;x/me'])
      expect((await rawRequest(stack.edge.url, '/APIv2/me', { Authorization: `Bearer ${apiToken}` })).status).toBe(404)
      expect(stack.origin.requests).toHaveLength(1)
    })
  })
})
