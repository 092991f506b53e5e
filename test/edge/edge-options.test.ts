import { createHash } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ISSUER, createSigningKey, signAccessToken, startJwksServer } from '../support/edge-keys'
import { startEdgeStack, type EdgeStack } from '../support/edge-stack'
import { startEdge } from '../support/edge-worker'

const stacks: EdgeStack[] = []
afterEach(async () => {
  for (const stack of stacks.splice(0)) await stack.close()
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
})

