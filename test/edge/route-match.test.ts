import { describe, expect, it } from 'vitest'
import type { Route } from '../../edge/config'
import { matchRoute } from '../../edge/routes'

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
})
