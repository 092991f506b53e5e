import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { rawRequest } from '../support/raw-request'
import { signAccessToken } from '../support/edge-keys'
import { startEdgeStack, type EdgeStack } from '../support/edge-stack'

let stack: EdgeStack
beforeAll(async () => {
  stack = await startEdgeStack()
})
afterAll(() => stack.close())
beforeEach(() => {
  stack.origin.requests.length = 0
  stack.origin.handle = undefined
})

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })

describe('forwarding an authorized request', () => {
  it('delivers the verified claims to the origin as identity headers', async () => {
    const token = await signAccessToken(stack.key, { roles: ['support'], aud: ['demo-api', 'other-api'] })
    const response = await stack.edge.fetch('/api/me', { headers: bearer(token) })
    expect(response.status).toBe(200)
    const [received] = stack.origin.requests
    expect(received?.headers).toMatchObject({
      'x-portcullis-sub': 'user-123',
      'x-portcullis-sid': 'session-456',
      'x-portcullis-scope': 'orders:read profile',
      'x-portcullis-aud': 'demo-api other-api',
      'x-portcullis-client-id': 'portcullis-web',
      'x-portcullis-roles': 'support',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'edge.test',
    })
    expect(received?.headers['x-portcullis-jti']).toMatch(/^[0-9a-f-]{36}$/)
    // The token itself is not forwarded unless FORWARD_AUTHORIZATION is on.
    expect(received?.headers.authorization).toBeUndefined()
  })

  it('preserves method, path, query and body, and passes the response status, headers and body back', async () => {
    stack.origin.handle = (received, response) => {
      response.writeHead(201, { 'content-type': 'text/plain', 'x-order-id': '77', location: '/api/orders/77' })
      response.end(`created from ${received.body}`)
    }
    const token = await signAccessToken(stack.key, { scope: 'orders:write' })
    const response = await stack.edge.fetch('/api/orders/new?dry_run=1&tag=a%20b', {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: '{"item":"tea"}',
    })
    expect(response.status).toBe(201)
    expect(response.headers.get('x-order-id')).toBe('77')
    expect(response.headers.get('location')).toBe('/api/orders/77')
    expect(await response.text()).toBe('created from {"item":"tea"}')
    const [received] = stack.origin.requests
    expect(received).toMatchObject({ method: 'POST', url: '/api/orders/new?dry_run=1&tag=a%20b', body: '{"item":"tea"}' })
    expect(received?.headers['content-type']).toBe('application/json')
  })

  it('streams the response body: the client reads the first chunk before the origin has finished', async () => {
    let finish: () => void = () => {}
    stack.origin.handle = (_received, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' })
      response.write('first chunk\n')
      finish = () => response.end('last chunk\n')
    }
    const token = await signAccessToken(stack.key)
    // Straight to workerd's socket (miniflare's dispatchFetch buffers bodies), and without gzip:
    // workerd compresses text for clients that accept it, and a compressor holds small chunks back.
    const response = await fetch(new URL('/api/stream', stack.edge.url), { headers: { ...bearer(token), 'Accept-Encoding': 'identity' } })
    const reader = response.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toBe('first chunk\n')
    finish()
    let rest = ''
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value)
    expect(rest).toBe('last chunk\n')
  })

  it('streams a request body to the origin', async () => {
    const token = await signAccessToken(stack.key, { scope: 'orders:write' })
    const encoder = new TextEncoder()
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 100; i++) controller.enqueue(encoder.encode(`line ${i}\n`))
        controller.close()
      },
    })
    const response = await stack.edge.fetch('/api/orders/upload', { method: 'PUT', headers: bearer(token), body, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(200)
    expect(stack.origin.requests[0]?.body.split('\n')).toHaveLength(101)
  })

  it('passes redirects from the origin to the client instead of following them', async () => {
    stack.origin.handle = (_received, response) => {
      response.writeHead(302, { location: 'http://elsewhere.test/next' }).end()
    }
    const token = await signAccessToken(stack.key)
    const response = await stack.edge.fetch('/api/redirect', { headers: bearer(token), redirect: 'manual' })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('http://elsewhere.test/next')
    expect(stack.origin.requests).toHaveLength(1)
  })

  it('forwards a public route without a token and without identity headers', async () => {
    const response = await stack.edge.fetch('/api/public/status', { headers: { 'X-Portcullis-Sub': 'admin' } })
    expect(response.status).toBe(200)
    const [received] = stack.origin.requests
    expect(received?.url).toBe('/api/public/status')
    expect(received?.headers['x-portcullis-sub']).toBeUndefined()
  })

  it('does not forward a Bearer Authorization header or the access-token cookie to a public origin', async () => {
    const token = await signAccessToken(stack.key)
    const fromHeader = await stack.edge.fetch('/api/public/status', { headers: { ...bearer(token), Cookie: `theme=dark; portcullis_at=${token}` } })
    expect(fromHeader.status).toBe(200)
    // Two Authorization headers reach the Worker joined by a comma; a Bearer one behind Basic still goes.
    const behindBasic = await stack.edge.fetch('/api/public/status', { headers: { Authorization: `Basic dXNlcjpwdw==, Bearer ${token}` } })
    expect(behindBasic.status).toBe(200)
    const [first, second] = stack.origin.requests
    expect(first?.headers.authorization).toBeUndefined()
    expect(first?.headers.cookie).toBe('theme=dark')
    expect(second?.headers.authorization).toBeUndefined()
    expect(JSON.stringify(stack.origin.requests)).not.toContain(token)
  })

  it("keeps a non-Bearer Authorization header on a public route, for the origin's own scheme", async () => {
    const response = await stack.edge.fetch('/api/public/status', { headers: { Authorization: 'Basic dXNlcjpwdw==' } })
    expect(response.status).toBe(200)
    expect(stack.origin.requests[0]?.headers.authorization).toBe('Basic dXNlcjpwdw==')
  })

  it('accepts the access token from the cookie and does not forward that cookie', async () => {
    const token = await signAccessToken(stack.key)
    const response = await stack.edge.fetch('/api/me', { headers: { Cookie: `theme=dark; portcullis_at=${token}` } })
    expect(response.status).toBe(200)
    const [received] = stack.origin.requests
    expect(received?.headers['x-portcullis-sub']).toBe('user-123')
    expect(received?.headers.cookie).toBe('theme=dark')
  })

  it('forwards /auth/, /oauth/ and /.well-known/ to central unchanged, credentials included', async () => {
    const response = await stack.edge.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', Cookie: 'portcullis_rt=abc' },
      body: 'grant_type=refresh_token',
    })
    expect(response.status).toBe(200)
    // Central reads the access token itself (logout, sessions), from the header or the cookie.
    const logout = await stack.edge.fetch('/auth/logout', { method: 'POST', headers: { Authorization: 'Bearer at-1', Cookie: 'portcullis_at=at-1' } })
    expect(logout.status).toBe(200)
    const [received, logoutReceived] = stack.origin.requests
    expect(received).toMatchObject({ method: 'POST', url: '/oauth/token', body: 'grant_type=refresh_token' })
    expect(received?.headers.cookie).toBe('portcullis_rt=abc')
    expect(logoutReceived?.headers.authorization).toBe('Bearer at-1')
    expect(logoutReceived?.headers.cookie).toBe('portcullis_at=at-1')
  })

  it('answers 404 for a path no route matches, without forwarding', async () => {
    const response = await stack.edge.fetch('/nothing-here')
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ error: 'not_found' })
    expect(stack.origin.requests).toHaveLength(0)
  })

  it('answers 404 when the prefix matches but the route does not allow the method and no other route does', async () => {
    const token = await signAccessToken(stack.key)
    // /api/orders/ allows POST and PUT only; GET falls back to /api/ (audience only) and is forwarded.
    const get = await stack.edge.fetch('/api/orders/1', { headers: bearer(token) })
    expect(get.status).toBe(200)
    // DELETE on /admin/ has no method limit, so it is authorized there (and rejected: wrong audience).
    const admin = await stack.edge.fetch('/admin/users', { method: 'DELETE', headers: bearer(token) })
    expect(admin.status).toBe(401)
  })
})

describe('identity header spoofing', () => {
  it('drops X-Portcullis-* headers sent by the client, whatever their case, and sets its own', async () => {
    const token = await signAccessToken(stack.key)
    const response = await stack.edge.fetch('/api/me', {
      headers: { ...bearer(token), 'X-Portcullis-Sub': 'admin', 'x-portcullis-roles': 'portcullis:admin', 'X-PORTCULLIS-EXTRA': '1' },
    })
    expect(response.status).toBe(200)
    const headers = stack.origin.requests[0]?.headers
    expect(headers?.['x-portcullis-sub']).toBe('user-123')
    expect(headers?.['x-portcullis-roles']).toBeUndefined()
    expect(headers?.['x-portcullis-extra']).toBeUndefined()
  })

  it('drops underscore variants of identity and forwarding headers, which CGI-style origins read as the same variables', async () => {
    const token = await signAccessToken(stack.key)
    const spoofed = {
      X_Portcullis_Sub: 'admin',
      'X-Portcullis_Roles': 'portcullis:admin',
      x_portcullis_scope: 'everything',
      X_Forwarded_For: '6.6.6.6',
      X_Forwarded_Host: 'evil.test',
      X_Real_IP: '6.6.6.6',
    }
    expect((await stack.edge.fetch('/api/me', { headers: { ...bearer(token), ...spoofed } })).status).toBe(200)
    // A public route sets no identity, so a surviving variant would be the only one the origin sees.
    expect((await stack.edge.fetch('/api/public/status', { headers: spoofed })).status).toBe(200)
    for (const received of stack.origin.requests) {
      const names = received.rawHeaders.filter((_, index) => index % 2 === 0)
      expect(names.filter((name) => name.includes('_'))).toEqual([])
      expect(JSON.stringify(received.headers)).not.toMatch(/admin|everything|6\.6\.6\.6|evil\.test/)
    }
    expect(stack.origin.requests[0]?.headers['x-portcullis-sub']).toBe('user-123')
  })

  it('ignores Connection: x-portcullis-sub smuggling: the origin still gets the verified sub and no Connection header', async () => {
    const token = await signAccessToken(stack.key)
    const { status } = await rawRequest(stack.edge.url, '/api/me', {
      Authorization: `Bearer ${token}`,
      Connection: 'keep-alive, x-portcullis-sub, x-portcullis-sid',
      'X-Portcullis-Sub': 'admin',
    })
    expect(status).toBe(200)
    const headers = stack.origin.requests[0]?.headers
    expect(headers?.['x-portcullis-sub']).toBe('user-123')
    expect(headers?.['x-portcullis-sid']).toBe('session-456')
    expect(String(headers?.connection ?? '')).not.toMatch(/portcullis/i)
  })

  it('drops method- and URL-override headers: the origin acts on the method and path the edge authorized', async () => {
    const token = await signAccessToken(stack.key)
    // GET /api/orders/1 needs only the audience; the overrides name a method and paths it did not authorize.
    const overrides = {
      'X-HTTP-Method-Override': 'DELETE',
      'X-HTTP-Method': 'DELETE',
      'X-Method-Override': 'DELETE',
      'X-Original-URL': '/admin/users',
      'X-Rewrite-URL': '/admin/users',
    }
    expect((await stack.edge.fetch('/api/orders/1', { headers: { ...bearer(token), ...overrides } })).status).toBe(200)
    expect((await stack.edge.fetch('/api/public/status', { headers: overrides })).status).toBe(200)
    for (const received of stack.origin.requests) {
      for (const name of Object.keys(overrides)) expect(received.headers[name.toLowerCase()]).toBeUndefined()
    }
  })

  it('drops client-IP headers a client could spoof (X-Client-IP, True-Client-IP, X-Cluster-Client-IP)', async () => {
    const token = await signAccessToken(stack.key)
    const response = await stack.edge.fetch('/api/me', {
      headers: { ...bearer(token), 'X-Client-IP': '6.6.6.6', 'True-Client-IP': '6.6.6.6', 'X-Cluster-Client-IP': '6.6.6.6' },
    })
    expect(response.status).toBe(200)
    expect(JSON.stringify(stack.origin.requests[0]?.headers)).not.toContain('6.6.6.6')
  })

  it('drops every client-sent X-Forwarded-* header, not only the three the edge sets', async () => {
    const token = await signAccessToken(stack.key)
    const forwarded = { 'X-Forwarded-Port': '8443', 'X-Forwarded-Prefix': '/admin', 'X-Forwarded-Server': 'evil.test', 'X-Forwarded-Uri': '/admin/users' }
    expect((await stack.edge.fetch('/api/me', { headers: { ...bearer(token), ...forwarded } })).status).toBe(200)
    const names = Object.keys(stack.origin.requests[0]?.headers ?? {}).filter((name) => name.startsWith('x-forwarded-'))
    expect(names.sort()).toEqual(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'])
  })

  it('replaces client-sent X-Forwarded-For and Forwarded headers', async () => {
    const token = await signAccessToken(stack.key)
    const response = await stack.edge.fetch('/api/me', { headers: { ...bearer(token), 'X-Forwarded-For': '6.6.6.6', Forwarded: 'for=6.6.6.6', 'X-Forwarded-Host': 'evil.test' } })
    expect(response.status).toBe(200)
    const headers = stack.origin.requests[0]?.headers
    expect(headers?.['x-forwarded-for'] ?? '').not.toContain('6.6.6.6')
    expect(headers?.forwarded).toBeUndefined()
    expect(headers?.['x-forwarded-host']).toBe('edge.test')
  })
})
