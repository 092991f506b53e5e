import { createRoute, z } from '@hono/zod-openapi'
import { DPOP_ALGORITHMS } from '../../shared/dpop-proof'
import { CLIENT_ASSERTION_ALGORITHMS } from '../clients/authenticate-client'
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../clients/client-record'
import { publicEndpointUrl } from '../clients/token-request-client'
import { getPublishedJwks } from '../tokens/signing-keys'
import type { AppDeps } from '../app-deps'
import { createRouter } from './create-router'

/** Edges and clients may cache the key set this long; publish-ahead is far longer (see signing-keys.ts). */
export const JWKS_MAX_AGE_SECONDS = 300

const jwksRoute = createRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  summary: 'RFC 7517 public signing keys (next, active and still-published retired keys)',
  responses: {
    200: { description: 'JWK Set', content: { 'application/json': { schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) } } },
  },
})

const metadataRoute = createRoute({
  method: 'get',
  path: '/.well-known/oauth-authorization-server',
  summary: 'RFC 8414 authorization server metadata',
  responses: { 200: { description: 'Metadata', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
})

/** Discovery: the JWKS the edge verifies with, and RFC 8414 metadata. */
export function wellKnownRoutes(deps: AppDeps) {
  const router = createRouter()

  router.openapi(jwksRoute, async (c) => {
    const jwks = await getPublishedJwks(deps.sql, deps.clock(), { fresh: true })
    c.header('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`)
    return c.json({ keys: jwks.keys as Record<string, unknown>[] }, 200)
  })

  // Endpoint URLs name where clients reach central (the edge's origin when central sits behind
  // it), while `issuer` stays the `iss` every token carries (RFC 8414 §2, §3.3). Fixed by config,
  // so built once.
  const metadata = {
    issuer: deps.config.ISSUER,
    token_endpoint: publicEndpointUrl(deps.config, '/oauth/token'),
    revocation_endpoint: publicEndpointUrl(deps.config, '/oauth/revoke'),
    jwks_uri: publicEndpointUrl(deps.config, '/.well-known/jwks.json'),
    // No authorization endpoint: users log in at /auth/login; RFC 8414 §2 still wants the field.
    response_types_supported: [],
    grant_types_supported: ['refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
    // RFC 9449 §5.1.
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  }

  router.openapi(metadataRoute, (c) => {
    c.header('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`)
    return c.json(metadata, 200)
  })

  return router
}
