import { startEdge, type RunningEdge } from './edge-worker'
import { TEST_ISSUER, createSigningKey, startJwksServer, type JwksServer, type TestSigningKey } from './edge-keys'
import { startOrigin, type TestOrigin } from './edge-origin'

export interface EdgeStack {
  edge: RunningEdge
  origin: TestOrigin
  jwks: JwksServer
  key: TestSigningKey
  close(): Promise<void>
}

/** The route table most edge tests run against; `origin` is the test origin's URL. */
export function testRoutes(origin: string) {
  return [
    { prefix: '/api/', origin, audience: 'demo-api' },
    { prefix: '/api/orders/', origin, audience: 'demo-api', scopes: ['orders:write'], methods: ['POST', 'PUT'] },
    { prefix: '/api/public/', origin, public: true },
    { prefix: '/admin/', origin, audience: 'admin-api', roles: ['portcullis:admin'] },
    // Prefixes with characters beyond the unreserved ones, each stricter than `/api/`.
    { prefix: '/api/@admin/', origin, audience: 'demo-api', roles: ['portcullis:admin'] },
    { prefix: '/api/items:purge', origin, audience: 'demo-api', scopes: ['items:purge'] },
    // A public route with `:` under the protected `/api/`: `/api/status%3Acheck` must not reach it.
    { prefix: '/api/status:check', origin, public: true },
  ]
}

/** Signing key + JWKS server + recording origin + the edge Worker in workerd, wired together. */
export async function startEdgeStack(vars: Record<string, string> = {}): Promise<EdgeStack> {
  const key = await createSigningKey('key-1')
  const jwks = await startJwksServer([key.publicJwk])
  const origin = await startOrigin()
  const edge = await startEdge({
    ISSUER: TEST_ISSUER,
    JWKS_URL: jwks.url,
    CENTRAL_URL: origin.url,
    ROUTES: JSON.stringify(testRoutes(origin.url)),
    ...vars,
  })
  return {
    edge,
    origin,
    jwks,
    key,
    close: async () => {
      await edge.dispose()
      await origin.close()
      await jwks.close()
    },
  }
}
