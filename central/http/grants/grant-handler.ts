import type { Context } from 'hono'
import type { AuthenticatedClient, PresentedClientCredentials } from '../../clients/authenticate-client'
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

/** What the token endpoint read about the request's client, and how to check it and its DPoP proof. */
export interface TokenRequestContext {
  /** The client credentials the request presented (RFC 6749 §2.3), read but not yet checked. */
  presented: PresentedClientCredentials
  /** Looks the client up and authenticates it (`invalid_client` when that fails). */
  authenticateClient(): Promise<AuthenticatedClient>
  /**
   * Verifies the request's DPoP proof, if any (RFC 9449 §4.3), and returns its key's RFC 7638
   * thumbprint; `required` for a client registered with `require_dpop`. Call it once: a proof is
   * accepted once.
   */
  verifyDpopProof(required: boolean): Promise<string | undefined>
}

/**
 * One grant type of `POST /oauth/token` (RFC 6749 §4, §6): checks the client as the grant needs,
 * reads what it needs from the form, calls the domain, and answers with the token response.
 * Expected failures are thrown as shared/errors and answered by app.onError.
 */
export type GrantHandler = (c: Context, deps: AppDeps, form: TokenRequestForm, context: TokenRequestContext) => Promise<Response>
