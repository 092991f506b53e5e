import { createHash } from 'node:crypto'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ISSUER, createSigningKey, signAccessToken, startJwksServer } from '../support/edge-keys'
import { startOrigin, type TestOrigin } from '../support/edge-origin'
import { startEdgeStack, type EdgeStack } from '../support/edge-stack'
import { startEdge } from '../support/edge-worker'

const stacks: EdgeStack[] = []
const origins: TestOrigin[] = []
afterEach(async () => {
  for (const stack of stacks.splice(0)) await stack.close()
  for (const origin of origins.splice(0)) await origin.close()
})
async function stackWith(vars: Record<string, string>): Promise<EdgeStack> {
  const stack = await startEdgeStack(vars)
  stacks.push(stack)
  return stack
}

describe('edge options', () => {
  it('forwards the original Authorization header when FORWARD_AUTHORIZATION is true', async () => {
    const stack = await stackWith({ FORWARD_AUTHORIZATION: 'true' })
    const token = await signAccessToken(stack.key)
    expect((await stack.edge.fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
    expect(stack.origin.requests[0]?.headers.authorization).toBe(`Bearer ${token}`)
  })

  it('still keeps the Bearer token and the access-token cookie from public origins when FORWARD_AUTHORIZATION is true', async () => {
    const stack = await stackWith({ FORWARD_AUTHORIZATION: 'true' })
    const token = await signAccessToken(stack.key)
    const response = await stack.edge.fetch('/api/public/status', { headers: { Authorization: `Bearer ${token}`, Cookie: `portcullis_at=${token}; theme=dark` } })
    expect(response.status).toBe(200)
    expect(stack.origin.requests[0]?.headers.authorization).toBeUndefined()
    expect(stack.origin.requests[0]?.headers.cookie).toBe('theme=dark')
  })

  it('uses a custom identity header prefix and cookie name', async () => {
    const stack = await stackWith({ IDENTITY_HEADER_PREFIX: 'X-Auth-', ACCESS_TOKEN_COOKIE: 'at' })
    const token = await signAccessToken(stack.key)
    const response = await stack.edge.fetch('/api/me', { headers: { Cookie: `at=${token}`, 'X-Auth-Sub': 'admin' } })
    expect(response.status).toBe(200)
    expect(stack.origin.requests[0]?.headers['x-auth-sub']).toBe('user-123')
  })

  it('adds Server-Timing when DEBUG is on, and not otherwise', async () => {
    const debug = await stackWith({ DEBUG: 'true' })
    const token = await signAccessToken(debug.key)
    const response = await debug.edge.fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } })
    expect(response.headers.get('Server-Timing')).toMatch(/verify;dur=\d+, origin;dur=\d+, edge;dur=\d+/)
    const rejected = await debug.edge.fetch('/api/me')
    expect(rejected.headers.get('Server-Timing')).toMatch(/edge;dur=\d+/)

    const quiet = await stackWith({})
    const plain = await quiet.edge.fetch('/api/me', { headers: { Authorization: `Bearer ${await signAccessToken(quiet.key)}` } })
    expect(plain.headers.get('Server-Timing')).toBeNull()
  })

  it('answers 500 to every request when the route table is invalid, and logs which entry is wrong', async () => {
    const key = await createSigningKey('key-1')
    const jwks = await startJwksServer([key.publicJwk])
    const edge = await startEdge({
      ISSUER: TEST_ISSUER,
      JWKS_URL: jwks.url,
      CENTRAL_URL: 'http://127.0.0.1:1',
      ROUTES: JSON.stringify([{ prefix: '/api/', origin: 'http://127.0.0.1:1' }]),
    })
    try {
      const response = await edge.fetch('/api/me')
      expect(response.status).toBe(500)
      expect(await response.json()).toEqual({ error: 'server_error' })
      await expect.poll(() => edge.logs.join('\n')).toContain('ROUTES[0] (prefix \\"/api/\\").audience: is required unless \\"public\\" is true')
    } finally {
      await edge.dispose()
      await jwks.close()
    }
  })
})

describe('WebSocket upgrades', () => {
  it('passes an authorized WebSocket handshake through to the origin, identity headers included', async () => {
    const stack = await stackWith({})
    const upgraded: Duplex[] = []
    stack.origin.server.on('upgrade', (request, socket: Duplex) => {
      upgraded.push(socket)
      const accept = createHash('sha1').update(`${request.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
      const payload = Buffer.from(`hello ${request.headers['x-portcullis-sub']} at ${request.url}`)
      socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]))
    })
    const token = await signAccessToken(stack.key)
    const response = await stack.edge.fetch('/api/socket', { headers: { Upgrade: 'websocket', Authorization: `Bearer ${token}` } })
    expect(response.status).toBe(101)
    const socket = (response as unknown as { webSocket: WebSocket & { accept(): void } }).webSocket
    const message = new Promise<string>((resolve) => socket.addEventListener('message', (event) => resolve(String(event.data))))
    socket.accept()
    expect(await message).toBe('hello user-123 at /api/socket')
    socket.close()
    // Upgraded sockets are not the HTTP server's to close.
    for (const raw of upgraded) raw.destroy()
  })

  it('rejects a WebSocket handshake without a token before it reaches the origin', async () => {
    const stack = await stackWith({})
    let upgrades = 0
    stack.origin.server.on('upgrade', (_request, socket: Duplex) => {
      upgrades++
      socket.destroy()
    })
    const response = await stack.edge.fetch('/api/socket', { headers: { Upgrade: 'websocket' } })
    expect(response.status).toBe(401)
    expect(upgrades).toBe(0)
  })
  it('hands an origin redirect on a WebSocket handshake back to the client instead of following it with the identity headers', async () => {
    const stack = await stackWith({})
    const elsewhere = await startRecordingServer()
    stack.origin.server.on('upgrade', (_request, socket: Duplex) => {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${elsewhere.origin.url}/steal\r\nContent-Length: 0\r\n\r\n`)
    })
    const token = await signAccessToken(stack.key)
    const response = await rawExchange(stack.edge.url, '/api/socket', {
      ...webSocketHandshake,
      Authorization: `Bearer ${token}`,
      Cookie: 'theme=dark',
    })
    expect(response.status).toBe(302)
    expect(response.headers.location).toBe(`${elsewhere.origin.url}/steal`)
    expect(elsewhere.reached()).toBe(0)
  })

  it('answers a non-101 to a WebSocket handshake as any other response, hop-by-hop and Connection-named headers removed', async () => {
    const stack = await stackWith({})
    stack.origin.server.on('upgrade', (_request, socket: Duplex) => {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close, x-origin-internal\r\nX-Origin-Internal: 1\r\nX-Visible: 1\r\nContent-Length: 6\r\n\r\nno way')
    })
    const token = await signAccessToken(stack.key)
    const response = await rawExchange(stack.edge.url, '/api/socket', { ...webSocketHandshake, Authorization: `Bearer ${token}` })
    expect(response.status).toBe(403)
    expect(response.body).toBe('no way')
    expect(response.headers['x-visible']).toBe('1')
    expect(response.headers['x-origin-internal']).toBeUndefined()
  })

  it('treats Upgrade: websocket without Connection: upgrade as an ordinary request (RFC 6455 §4.1): no Upgrade forwarded, redirects not followed', async () => {
    const stack = await stackWith({})
    const elsewhere = await startRecordingServer()
    stack.origin.handle = (_received, response) => {
      response.writeHead(302, { location: `${elsewhere.origin.url}/steal` }).end()
    }
    const token = await signAccessToken(stack.key)
    const response = await rawExchange(stack.edge.url, '/api/socket', { Upgrade: 'websocket', Connection: 'keep-alive', Authorization: `Bearer ${token}` })
    expect(response.status).toBe(302)
    expect(response.headers.location).toBe(`${elsewhere.origin.url}/steal`)
    expect(elsewhere.reached()).toBe(0)
    const [received] = stack.origin.requests
    expect(received?.method).toBe('GET')
    expect(received?.headers.upgrade).toBeUndefined()
  })
})

/** The headers of a WebSocket opening handshake (RFC 6455 §4.1). */
const webSocketHandshake = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version': '13',
}

/** Another local server, counting every request and upgrade that reaches it (the redirect target). */
async function startRecordingServer(): Promise<{ origin: TestOrigin; reached(): number }> {
  const origin = await startOrigin()
  origins.push(origin)
  let upgrades = 0
  origin.server.on('upgrade', (_request, socket: Duplex) => {
    upgrades++
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstolen')
  })
  return { origin, reached: () => origin.requests.length + upgrades }
}

/** A request sent as written through node:http (fetch refuses `Connection` and `Upgrade`), answered with status, headers and body. */
function rawExchange(base: URL, path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: base.hostname, port: base.port, path, headers }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }))
    })
    request.on('upgrade', (response, socket) => {
      socket.destroy()
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' })
    })
    request.on('error', reject)
    request.end()
  })
}
