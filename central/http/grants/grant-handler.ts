import type { Context } from 'hono'
import type { AuthenticatedClient } from '../../clients/authenticate-client'
import type { AppDeps } from '../../app-deps'

/** The token request's form fields, as validated by the token endpoint (RFC 6749 wire names). */
export interface TokenRequestForm {
  grant_type?: string
  refresh_token?: string
  client_id?: string
  client_secret?: string
  client_assertion_type?: string
  client_assertion?: string
  scope?: string
  resource?: string
}

/** What the token endpoint established before the grant runs: who the client is, and its DPoP key. */
export interface TokenRequestContext {
  client: AuthenticatedClient
  /** RFC 7638 thumbprint of the key of a valid DPoP proof on this request (RFC 9449 §5). */
  dpopJkt: string | undefined
}

/**
 * One grant type of `POST /oauth/token` (RFC 6749 §4, §6): reads what it needs from the form,
 * calls the domain, and answers with the token response. The client is already authenticated
 * and any DPoP proof verified. Expected failures are thrown as shared/errors and answered by
 * app.onError.
 */
export type GrantHandler = (c: Context, deps: AppDeps, form: TokenRequestForm, context: TokenRequestContext) => Promise<Response>
