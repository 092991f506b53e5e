import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { UnauthorizedClient } from '../../shared/client-errors'
import { InvalidClient, InvalidRequest, UnsupportedGrantType } from '../../shared/errors'
import { clientTypeOf } from '../../shared/identity-headers'
import { mayRevokeToken } from '../clients/revocation-rights'
import { revokeClientTokens } from '../clients/store'
import { readClientCredentials, type TokenRequestClientParts } from '../clients/authenticate-client'
import {
  authenticatedClientId,
  authenticatePresentedClient,
  authenticateRequestClient,
  publicEndpointUrl,
  verifyRequestDpopProof,
} from '../clients/token-request-client'
import { looksLikeRefreshToken } from '../sessions/refresh-token'
import { refreshTokenHolder } from '../sessions/refresh-token-holder'
import { DEFAULT_CLIENT_ID } from '../sessions/default-client'
import { revokeSession } from '../sessions/store'
import { verifyAccessToken } from '../tokens/verify-access-token'
import type { AppDeps } from '../app-deps'
import { createRouter } from './create-router'
import { clientCredentialsGrant } from './grants/client-credentials-grant'
import type { GrantHandler, TokenRequestForm } from './grants/grant-handler'
import { refreshTokenGrant } from './grants/refresh-token-grant'
import { requireContentType } from './require-content-type'
import { errorResponse, TokenCharsSchema, TokenResponseSchema } from './wire-schemas'

/** RFC 6749 §2.3.1 `client_secret_post` and RFC 7523 §2.2 client assertions (Basic goes in the header). */
const ClientAuthenticationFields = {
  client_id: TokenCharsSchema.optional(),
  client_secret: z.string().min(1).max(512).optional(),
  client_assertion_type: z.string().max(200).optional(),
  client_assertion: z.string().min(1).max(8192).optional().openapi({ description: 'RFC 7523 private_key_jwt assertion' }),
}

const TokenRequestSchema = z
  .object({
    grant_type: z.string().max(100).optional(),
    refresh_token: z.string().max(1024).optional().openapi({ description: 'Absent: taken from the portcullis_rt cookie (browser mode)' }),
    ...ClientAuthenticationFields,
    scope: z.string().max(2000).optional().openapi({ description: 'Space-separated; may narrow the session\'s (or client\'s) scopes, never widen' }),
    resource: z.string().min(1).max(2000).optional().openapi({ description: 'RFC 8707: one of the session\'s (or client\'s) audiences' }),
  })
  .openapi('TokenRequest')

const RevokeRequestSchema = z
  .object({
    token: z.string().max(4096).optional(),
    token_type_hint: z.string().max(100).optional(),
    ...ClientAuthenticationFields,
  })
  .openapi('RevocationRequest')

const FORM = 'application/x-www-form-urlencoded'

const tokenRoute = createRoute({
  method: 'post',
  path: '/oauth/token',
  summary: 'RFC 6749 §6 refresh grant (rotates the refresh token; sid stays) and §4.4 client credentials',
  description: [
    'Default: `refresh_token` in the form; the body carries the new pair (RFC 6749 §5.1).',
    '',
    '`grant_type=client_credentials`: a registered confidential client (client_secret_basic, client_secret_post or',
    'private_key_jwt) gets an access token for itself, no refresh token.',
    '',
    'DPoP (RFC 9449): with a valid `DPoP` proof header the access token is bound to the proof\'s key (`token_type: DPoP`,',
    '`cnf.jkt`), and so is a refresh chain started that way: its refreshes need a proof by the same key.',
    '',
    'Cookie mode (browser apps): leave `refresh_token` out; it is read from the `portcullis_rt` cookie, the request needs an',
    'allowed `Origin` (CSRF, else 403), and the new pair is set as HttpOnly cookies and **left out of the body**',
    '(`{token_type, expires_in, scope}`), so page scripts never see a token.',
  ].join('\n'),
  middleware: [requireContentType(FORM)] as const,
  request: { body: { required: true, content: { [FORM]: { schema: TokenRequestSchema } } } },
  responses: {
    200: { description: 'New token pair', content: { 'application/json': { schema: TokenResponseSchema } } },
    400: errorResponse('`invalid_request`, `invalid_grant`, `unsupported_grant_type`, `unauthorized_client`, `invalid_scope`, `invalid_target`, `invalid_dpop_proof`'),
    401: errorResponse('Client authentication failed (`invalid_client`)'),
    403: errorResponse('Cookie request without an allowed Origin'),
    415: errorResponse('Body is not form-encoded'),
  },
})

const revokeRoute = createRoute({
  method: 'post',
  path: '/oauth/revoke',
  summary: 'RFC 7009 token revocation: ends the session of a refresh token or access token',
  description:
    'Confidential clients authenticate as at the token endpoint. A session ends only when the caller is the client it was ' +
    'issued to (a public or implicit client names itself with `client_id`, default `web`) and, for a DPoP-bound token or ' +
    'session, sends a `DPoP` proof by the bound key; otherwise the answer is 200 and nothing is revoked (RFC 7009 §2.2). ' +
    'A client-credentials access token is revoked only by its own authenticated client, and revoking it ends every access ' +
    'token of that client (its not-before marker moves).',
  middleware: [requireContentType(FORM)] as const,
  request: { body: { required: true, content: { [FORM]: { schema: RevokeRequestSchema } } } },
  responses: {
    200: { description: 'Revoked, or the token was unknown (RFC 7009 §2.2)' },
    400: errorResponse('`token` missing (`invalid_request`); a client token revoked by another client (`unauthorized_client`)'),
    401: errorResponse('Client authentication failed (`invalid_client`)'),
    415: errorResponse('Body is not form-encoded'),
  },
})

/** The token endpoint's grant types, each a small handler in grants/; a new grant is one more entry. */
const GRANTS: Record<string, GrantHandler> = {
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
}

type ClientFields = Pick<TokenRequestForm, 'client_id' | 'client_secret' | 'client_assertion_type' | 'client_assertion'>

/** The parts of a token or revocation request that identify or authenticate its client (RFC 6749 §2.3). */
function clientParts(c: Context, form: ClientFields): TokenRequestClientParts {
  return {
    authorization: c.req.header('Authorization'),
    clientId: form.client_id,
    clientSecret: form.client_secret,
    clientAssertionType: form.client_assertion_type,
    clientAssertion: form.client_assertion,
  }
}

/** `/oauth/*`: the token endpoint (dispatching on grant_type) and the revocation endpoint. */
export function oauthRoutes(deps: AppDeps) {
  const router = createRouter()
  const { config } = deps
  // Behind the edge, central is reached at another URL than clients use: assertions and proofs name the public one.
  const tokenEndpointUrl = publicEndpointUrl(config, '/oauth/token')
  const revocationEndpointUrl = publicEndpointUrl(config, '/oauth/revoke')
  const authenticate = (c: Context, form: ClientFields, endpointUrl: string) =>
    authenticateRequestClient(deps, clientParts(c, form), { endpointUrl, defaultClientId: DEFAULT_CLIENT_ID })

  router.openapi(tokenRoute, async (c) => {
    const form = c.req.valid('form')
    c.header('Cache-Control', 'no-store')
    if (!form.grant_type) throw new InvalidRequest('grant_type is required')
    const handle = Object.hasOwn(GRANTS, form.grant_type) ? GRANTS[form.grant_type] : undefined
    // Logins go through /auth/login, not a password grant (RFC 6749 §5.2 unsupported_grant_type).
    if (!handle) throw new UnsupportedGrantType(`only ${Object.keys(GRANTS).map((g) => `grant_type=${g}`).join(', ')} is supported`)
    const presented = readClientCredentials(clientParts(c, form), DEFAULT_CLIENT_ID)
    return (await handle(c, deps, form, {
      presented,
      authenticateClient: () => authenticatePresentedClient(deps, presented, { endpointUrl: tokenEndpointUrl }),
      verifyDpopProof: (required) => verifyRequestDpopProof(deps, c.req.header('DPoP'), { method: 'POST', url: tokenEndpointUrl, required }),
    })) as never
  })

  router.openapi(revokeRoute, async (c) => {
    const form = c.req.valid('form')
    if (!form.token) throw new InvalidRequest('token is required')
    // RFC 7009 §2.1: confidential clients authenticate; a public or implicit one names itself.
    const client = await authenticate(c, form, revocationEndpointUrl)
    const proofJkt = await verifyRequestDpopProof(deps, c.req.header('DPoP'), { method: 'POST', url: revocationEndpointUrl, required: false })
    const caller = { clientId: authenticatedClientId(client), proofJkt }
    const now = deps.clock()
    let sessionId: string | undefined
    if (looksLikeRefreshToken(form.token)) {
      const holder = await refreshTokenHolder(deps, form.token)
      if (holder && mayRevokeToken({ clientId: holder.clientId, boundJkt: holder.dpopJkt }, caller)) sessionId = holder.sessionId
    } else {
      // An access token: revoke its session only if we really signed it (a forged sid must not
      // end someone else's session). Anything unverifiable is "unknown" → 200 (RFC 7009 §2.2).
      const claims = await verifyAccessToken(deps, form.token, now).catch(() => undefined)
      if (claims && clientTypeOf(claims) === 'machine') {
        // A client-credentials token has no session: only its own client, authenticated, may end it,
        // and that ends all of the client's tokens (RFC 7009 §2.1: the token was issued to the caller).
        if (client.kind !== 'registered' || client.method === 'none') throw new InvalidClient('authenticate as the client this token was issued to')
        if (authenticatedClientId(client) !== claims.client_id) throw new UnauthorizedClient('this token was issued to another client')
        await revokeClientTokens(deps.sql, { clientId: claims.client_id, actor: `client:${claims.client_id}`, now, clock: deps.clock })
      } else if (claims && mayRevokeToken({ clientId: claims.client_id, boundJkt: claims.cnf?.jkt ?? null }, caller)) {
        sessionId = claims.sid
      }
    }
    if (sessionId) await revokeSession(deps.sql, { sessionId, actor: 'user', reason: 'revoked by client (RFC 7009)', now })
    c.header('Cache-Control', 'no-store')
    return c.body(null, 200)
  })

  return router
}
