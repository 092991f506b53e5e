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
  ])('rejects %s', (path, message) => {
    expect(() => normalizeRequestPath(path)).toThrow(message)
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
})
