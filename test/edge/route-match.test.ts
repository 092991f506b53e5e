import { describe, expect, it } from 'vitest'
import type { Route } from '../../edge/routes'
import { matchRoute, routeComparisonForm } from '../../edge/routes'

const route = (index: number, prefix: string, extra: Partial<Route> = {}): Route => ({
  index,
  prefix,
  origin: 'http://origin.test',
  methods: undefined,
  public: false,
  audience: 'demo-api',
  scopes: [],
  roles: [],
  central: false,
  matchPrefix: routeComparisonForm(prefix),
  ...extra,
})

describe('matchRoute (route table lookup)', () => {
  const broad = route(0, '/api/')
  const narrow = route(1, '/api/orders/', { scopes: ['orders:write'] })
  const narrowest = route(2, '/api/orders/export/', { public: true })

  it('picks the longest matching prefix whatever the order of the table', () => {
    for (const table of [
      [broad, narrow, narrowest],
      [narrowest, narrow, broad],
      [narrow, narrowest, broad],
    ]) {
      expect(matchRoute(table, 'GET', '/api/orders/export/today').index).toBe(2)
      expect(matchRoute(table, 'GET', '/api/orders/7').index).toBe(1)
      expect(matchRoute(table, 'GET', '/api/me').index).toBe(0)
    }
  })

  it('falls back to a shorter prefix when the longer route does not allow the method', () => {
    const writes = route(1, '/api/orders/', { methods: ['POST', 'PUT'] })
    expect(matchRoute([broad, writes], 'POST', '/api/orders/7').index).toBe(1)
    expect(matchRoute([broad, writes], 'GET', '/api/orders/7').index).toBe(0)
  })

  it('throws not found when no prefix matches on whole segments', () => {
    expect(() => matchRoute([broad, narrow], 'GET', '/apiv2/orders')).toThrow('no route matches this path')
  })

  // Origins that route case-insensitively (Express, ASP.NET Core) or drop `;…` path parameters
  // (Tomcat, Jetty, Spring) must never reach a route's handler past a less restrictive route.
  it('matches case-insensitively and without path parameters, so the more restrictive route wins', () => {
    const table = [broad, narrow, narrowest]
    expect(matchRoute(table, 'POST', '/api/Orders/new').index).toBe(1)
    expect(matchRoute(table, 'POST', '/API/ORDERS').index).toBe(1)
    expect(matchRoute(table, 'POST', '/api/orders;x/new').index).toBe(1)
    expect(matchRoute(table, 'POST', '/api;v=2/orders;jsessionid=A1').index).toBe(1)
    expect(matchRoute(table, 'GET', '/api/Orders;x/EXPORT/today').index).toBe(2)
    expect(() => matchRoute(table, 'GET', '/APIv2/orders')).toThrow('no route matches this path')
  })

  // ASP.NET Core, Spring and Tomcat decode `%40` and `%3A` before routing, Express 4 does not: an
  // escape that picks another route once decoded is ambiguous, one that does not is matched.
  it('matches a path whose escaped @ and : pick the same route decoded or not', () => {
    const everything = route(0, '/', { public: true })
    const admin = route(1, '/@admin/', { roles: ['portcullis:admin'] })
    const purge = route(2, '/@admin/items:purge', { scopes: ['items:purge'] })
    const table = [everything, admin, purge]
    expect(matchRoute(table, 'GET', '/@admin/users').index).toBe(1)
    expect(matchRoute(table, 'POST', '/@admin/items:purge').index).toBe(2)
    expect(matchRoute(table, 'POST', '/@admin/items%3Apurgeall').index).toBe(1)
    expect(matchRoute(table, 'GET', '/@admin/a%3Ab;v=1/%40x').index).toBe(1)
    expect(matchRoute(table, 'GET', '/%40adminx/users').index).toBe(0)
    expect(matchRoute(table, 'GET', '/users/%20x').index).toBe(0)
  })

  it.each([
    ['GET', '/%40admin/users'],
    ['GET', '/%40ADMIN;x/users'],
    ['POST', '/%40admin/items%3Apurge'],
    ['POST', '/@admin/Items%3apurge;v=1/7'],
  ])('refuses %s %s, whose escapes pick another route once decoded, as ambiguous', (method, path) => {
    const table = [route(0, '/', { public: true }), route(1, '/@admin/', { roles: ['portcullis:admin'] }), route(2, '/@admin/items:purge')]
    expect(() => matchRoute(table, method, path)).toThrow(
      'request path is ambiguous: percent-encoded characters change which route applies',
    )
  })

  // Forwarded still encoded under the public route, `/v1/status%3Acheck` would reach Express 4's
  // `/v1/:id` handler, not its `status:check` one.
  it('refuses an escaped : that would turn a protected path into a public route', () => {
    const table = [route(0, '/v1/', { roles: ['admin'] }), route(1, '/v1/status:check', { public: true })]
    expect(matchRoute(table, 'GET', '/v1/status:check').index).toBe(1)
    expect(() => matchRoute(table, 'GET', '/v1/status%3Acheck')).toThrow(/ambiguous/)
    expect(() => matchRoute(table, 'GET', '/v1/Status%3acheck;x/7')).toThrow(/ambiguous/)
    // Also when only the decoded path matches a route at all: 400, not 404.
    expect(() => matchRoute([table[1]!], 'GET', '/v1/status%3Acheck')).toThrow(/ambiguous/)
  })

  it('matches a prefix written with capitals case-insensitively too', () => {
    const upper = route(3, '/API/Orders/', { scopes: ['orders:write'] })
    expect(matchRoute([broad, upper], 'POST', '/api/orders/7').index).toBe(3)
    expect(matchRoute([broad, upper], 'POST', '/Api/ORDERS;x/7').index).toBe(3)
  })
})

describe('routeComparisonForm', () => {
  it('is the path itself for a lower-case path without parameters', () => {
    expect(routeComparisonForm('/api/orders/7')).toBe('/api/orders/7')
  })

  it('drops every segment\'s parameters and lower-cases ASCII letters only', () => {
    expect(routeComparisonForm('/API;a=B/Orders;x;y/7;')).toBe('/api/orders/7')
    // String#toLowerCase would turn the Kelvin sign into "k"; no origin reads it as one.
    expect(routeComparisonForm('/Api/%C3%A9T\u212A')).toBe('/api/%c3%a9t\u212A')
  })

  it('decodes every character a prefix may hold beyond the unreserved ones, in either hex case', () => {
    const prefixCharacters = "!$&'()*+,=:@"
    const encoded = [...prefixCharacters].map((char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`).join('')
    expect(routeComparisonForm(`/a/${encoded}`)).toBe(`/a/${prefixCharacters}`)
    expect(routeComparisonForm(`/a/${encoded.toLowerCase()}`)).toBe(`/a/${prefixCharacters}`)
  })

  it('leaves other escapes encoded, %3B included (origins read it as part of the segment, not a parameter)', () => {
    expect(routeComparisonForm('/api/public%3Bx/%20%22%3C%5B')).toBe('/api/public%3bx/%20%22%3c%5b')
    expect(routeComparisonForm('/api/%2540admin')).toBe('/api/%2540admin')
  })
})
