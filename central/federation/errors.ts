import { PortcullisError } from '../../shared/errors'

/**
 * The callback could not be trusted: unknown, replayed or expired state, another browser's
 * flow, a code or ID token the library rejected. The person simply tries again.
 */
export class SignInFailed extends PortcullisError {
  readonly code = 'invalid_request'
  readonly status = 400
}

/** The provider vouched for the person, but this provider's rules refuse them here. */
export class SignInRefused extends PortcullisError {
  readonly code = 'access_denied'
  readonly status = 403
}

/** The provider could not be reached or answered something other than OAuth (RFC 9110 §15.6.3). */
export class ProviderUnavailable extends PortcullisError {
  readonly code = 'temporarily_unavailable'
  readonly status = 502
}

/** The provider did not answer within the provider's `timeout_ms` (RFC 9110 §15.6.5). */
export class ProviderTimeout extends PortcullisError {
  readonly code = 'temporarily_unavailable'
  readonly status = 504
}

export type FederationError = SignInFailed | SignInRefused | ProviderUnavailable | ProviderTimeout
