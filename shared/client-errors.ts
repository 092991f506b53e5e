import { PortcullisError } from './errors'

/**
 * RFC 6749 §5.2: the authenticated client is not allowed this grant type (e.g. client
 * credentials for a client registered without it).
 */
export class UnauthorizedClient extends PortcullisError {
  readonly code = 'unauthorized_client'
  readonly status = 400
}
