import { InvalidClient } from '../../../shared/errors'
import { decideClientCredentials, issueClientCredentialsToken } from '../../clients/client-credentials'
import { getSigningKey } from '../../tokens/signing-keys'
import { clientRequiresDpop } from '../../clients/token-request-client'
import type { GrantHandler } from './grant-handler'

/**
 * `grant_type=client_credentials`: a registered confidential client that authenticated gets an
 * access token for itself (`sub` = `client_id`), narrowed to the requested `scope`/`resource`
 * within what it is allowed, bound to its DPoP key when it sent a proof, and no refresh token.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export const clientCredentialsGrant: GrantHandler = async (c, deps, form, request) => {
  const client = await request.authenticateClient()
  // RFC 6749 §4.4.2: the client MUST authenticate; an implicit or public client proved nothing.
  if (client.kind !== 'registered' || client.method === 'none') {
    throw new InvalidClient('client_credentials needs an authenticated confidential client')
  }
  const dpopJkt = await request.verifyDpopProof(clientRequiresDpop(client))
  const now = deps.clock()
  const grant = decideClientCredentials(
    client.client,
    { scopes: form.scope === undefined ? undefined : form.scope.split(' ').filter(Boolean), resource: form.resource, dpopJkt },
    { accessTokenTtlSeconds: deps.config.ACCESS_TOKEN_TTL_SECONDS },
  )
  const signingKey = await getSigningKey(deps.sql, deps.config, now)
  const token = await issueClientCredentialsToken({ sql: deps.sql, config: deps.config, signingKey }, client.client, grant, now)
  c.header('Cache-Control', 'no-store')
  c.header('Pragma', 'no-cache')
  // RFC 6749 §4.4.3: no refresh token; the client authenticates again for a new access token.
  return c.json({ access_token: token.accessToken, token_type: token.tokenType, expires_in: token.expiresIn, scope: token.scope }, 200)
}
