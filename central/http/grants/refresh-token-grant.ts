import { InvalidRequest } from '../../../shared/errors'
import { authenticatedClientId, clientRequiresDpop, requireClientGrant, unauthenticatedRefreshClient } from '../../clients/token-request-client'
import { refreshSession, type RefreshClient } from '../../sessions/refresh-session'
import { clientIp, clientUserAgent } from '../client-info'
import { assertSameOrigin } from '../require-same-origin'
import { readRefreshCookie } from '../session-cookies'
import { tokenResponse } from '../token-response'
import type { GrantHandler } from './grant-handler'

/**
 * `grant_type=refresh_token`: rotates the presented refresh token (from the form, or in browser
 * mode from the `portcullis_rt` cookie, behind the Origin check) and answers the new pair.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export const refreshTokenGrant: GrantHandler = async (c, deps, form, request) => {
  const { config } = deps
  let client: RefreshClient
  let dpopJkt: string | undefined
  if (request.presented.kind === 'none') {
    // A public or implicit client: the refresh statement checks it, sparing a lookup per refresh.
    dpopJkt = await request.verifyDpopProof(false)
    client = unauthenticatedRefreshClient(config, request.presented.clientId, { authenticate: request.authenticateClient, dpopJkt })
  } else {
    const authenticated = await request.authenticateClient()
    requireClientGrant(authenticated, 'refresh_token')
    dpopJkt = await request.verifyDpopProof(clientRequiresDpop(authenticated))
    client = { kind: 'established', clientId: authenticatedClientId(authenticated) }
  }
  let refreshToken = form.refresh_token
  let cookieMode = false
  if (refreshToken === undefined) {
    refreshToken = readRefreshCookie(c)
    if (refreshToken === undefined) throw new InvalidRequest('refresh_token is required')
    cookieMode = true
    assertSameOrigin(c, config)
  }
  const tokens = await refreshSession(deps, {
    refreshToken,
    // A session started by a client refreshes only for that client.
    client,
    scopes: form.scope === undefined ? undefined : form.scope.split(' ').filter(Boolean),
    resource: form.resource,
    // A bound chain refreshes only with a proof by its key (checked in the session's transaction).
    dpopJkt,
    ip: clientIp(c, config),
    userAgent: clientUserAgent(c),
  })
  return tokenResponse(c, config, tokens, cookieMode)
}
