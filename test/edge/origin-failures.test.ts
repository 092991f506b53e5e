import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ISSUER, createSigningKey, signAccessToken, startJwksServer, type JwksServer, type TestSigningKey } from '../support/edge-keys'
import { findClosedPort, startOrigin, type TestOrigin } from '../support/edge-origin'
import { startEdge, type RunningEdge } from '../support/edge-worker'

let key: TestSigningKey
let jwks: JwksServer
let hanging: TestOrigin
let edge: RunningEdge

beforeAll(async () => {
  key = await createSigningKey('key-1')
  jwks = await startJwksServer([key.publicJwk])
  hanging = await startOrigin()
  hanging.handle = () => {} // accepts the request, never answers
  const closedPort = await findClosedPort()
  edge = await startEdge({
    ISSUER: TEST_ISSUER,
    JWKS_URL: jwks.url,
    CENTRAL_URL: hanging.url,
    ORIGIN_TIMEOUT_MS: '300',
    ROUTES: JSON.stringify([
      { prefix: '/down/', origin: `http://127.0.0.1:${closedPort}`, audience: 'demo-api' },
      { prefix: '/slow/', origin: hanging.url, audience: 'demo-api' },
    ]),
  })
})
afterAll(async () => {
  await edge.dispose()
  await hanging.close()
  await jwks.close()
})

describe('origin failures', () => {
  it('answers 502 with a JSON body when the origin is unreachable', async () => {
    const token = await signAccessToken(key)
    const response = await edge.fetch('/down/x', { headers: { Authorization: `Bearer ${token}` } })
    expect(response.status).toBe(502)
    expect(response.headers.get('content-type')).toMatch(/application\/json/)
    expect(await response.json()).toEqual({ error: 'bad_gateway', error_description: 'origin is unreachable' })
  })

  it('answers 504 with a JSON body when the origin does not answer within ORIGIN_TIMEOUT_MS', async () => {
    const token = await signAccessToken(key)
    const response = await edge.fetch('/slow/x', { headers: { Authorization: `Bearer ${token}` } })
    expect(response.status).toBe(504)
    expect(await response.json()).toEqual({ error: 'gateway_timeout', error_description: 'origin did not answer within 300 ms' })
    expect(hanging.requests).toHaveLength(1)
  })

  it('still authenticates before forwarding to a failing origin', async () => {
    const response = await edge.fetch('/down/x')
    expect(response.status).toBe(401)
  })
})
