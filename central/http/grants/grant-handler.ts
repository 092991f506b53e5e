import type { Context } from 'hono'
import type { AppDeps } from '../../app-deps'
import type { tokenResponse } from '../token-response'

/** The token request's form fields, as validated by the token endpoint (RFC 6749 wire names). */
export interface TokenRequestForm {
  grant_type?: string
  refresh_token?: string
  client_id?: string
  scope?: string
  resource?: string
}

/**
 * One grant type of `POST /oauth/token` (RFC 6749 §4, §6): reads what it needs from the form,
 * calls the domain, and answers with the token response. Expected failures are thrown as
 * shared/errors and answered by app.onError.
 */
export type GrantHandler = (c: Context, deps: AppDeps, form: TokenRequestForm) => Promise<ReturnType<typeof tokenResponse>>
