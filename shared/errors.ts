/**
 * Expected failures, each carrying its OAuth `error` code and HTTP status.
 * Messages name the rule that failed; they never contain tokens, hashes or passwords
 * (internal detail goes in `cause`).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export abstract class PortcullisError extends Error {
  abstract readonly code: string
  abstract readonly status: number
  /** Extra response headers (e.g. `Retry-After`). */
  headers: Record<string, string> = {}

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** RFC 6749 §5.2: malformed request (missing parameter, bad JSON, wrong content type). */
export class InvalidRequest extends PortcullisError {
  readonly code = 'invalid_request'
  readonly status = 400
}

/**
 * RFC 6750 §3.1 `invalid_request` from a Bearer-protected resource (two credentials, a token in the
 * query): answered with a Bearer challenge, unlike the token endpoint's.
 */
export class InvalidBearerRequest extends InvalidRequest {}

/** RFC 6749 §5.2: the refresh token is invalid, expired, revoked or bound to another client. */
export class InvalidGrant extends PortcullisError {
  readonly code = 'invalid_grant'
  readonly status = 400
}

/** RFC 6749 §5.2: the grant type is not one this server supports. */
export class UnsupportedGrantType extends PortcullisError {
  readonly code = 'unsupported_grant_type'
  readonly status = 400
}

/** RFC 6749 §5.2: requested scope exceeds what the grant allows. */
export class InvalidScope extends PortcullisError {
  readonly code = 'invalid_scope'
  readonly status = 400
}

/** RFC 8707 §2: requested resource is outside the session's audiences. */
export class InvalidTarget extends PortcullisError {
  readonly code = 'invalid_target'
  readonly status = 400
}

/** RFC 6749 §5.2: client authentication failed / unknown client. */
export class InvalidClient extends PortcullisError {
  readonly code = 'invalid_client'
  readonly status = 401
}

/** Login failed. One message for unknown user and wrong password alike. */
export class InvalidCredentials extends PortcullisError {
  readonly code = 'invalid_credentials'
  readonly status = 401
}

/** RFC 9110 §10.2.3 `Retry-After` in whole seconds, at least 1. */
const retryAfterHeader = (seconds: number) => String(Math.max(1, Math.ceil(seconds)))

/** Too many attempts; `retryAfterSeconds` becomes the `Retry-After` header. */
export class TooManyRequests extends PortcullisError {
  readonly code = 'too_many_requests'
  readonly status = 429
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message)
    this.headers['Retry-After'] = retryAfterHeader(retryAfterSeconds)
  }
}

/**
 * Which rule an access token failed, for code and tests that must not depend on a message's
 * wording (as jose's errors carry `code`, `claim` and `reason`).
 */
export type InvalidTokenReason =
  | 'missing'
  | 'too_long'
  | 'malformed'
  | 'encrypted'
  | 'not_canonical'
  | 'header_parameter_not_allowed'
  | 'alg_not_allowed'
  | 'typ_not_allowed'
  | 'kid_malformed'
  | 'unknown_key'
  | 'alg_key_mismatch'
  | 'signature_invalid'
  | 'claim_missing'
  | 'claim_invalid'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'not_yet_valid'
  | 'expired'
  | 'issued_in_future'
  | 'not_forwardable'
  | 'revoked'
  /** RFC 9449 §7.1: a DPoP-bound token presented as a bearer token, or a bearer token where DPoP is required. */
  | 'dpop_required'
  /** RFC 9449 §7.1: the DPoP scheme with a token that is not bound to a key. */
  | 'not_dpop_bound'

/** RFC 6750 §3.1: access token missing, malformed, expired, revoked or failing verification. */
export class InvalidToken extends PortcullisError {
  readonly code = 'invalid_token'
  readonly status = 401
  /** The rule that failed; undefined where a caller did not say. */
  readonly reason: InvalidTokenReason | undefined
  /** The claim or header parameter that failed the rule, when it is about one. */
  readonly claim: string | undefined
  /** RFC 6750 §3.1: when the request carried no token at all, the challenge names no error. */
  noTokenPresented = false

  constructor(message: string, options: { cause?: unknown; reason?: InvalidTokenReason; claim?: string } = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined)
    this.reason = options.reason
    this.claim = options.claim
  }

  static missing(message = 'no access token presented'): InvalidToken {
    const error = new InvalidToken(message, { reason: 'missing' })
    error.noTokenPresented = true
    return error
  }
}

/** RFC 6750 §3.1: the token lacks the scope (or audience/role) the resource requires. */
export class InsufficientScope extends PortcullisError {
  readonly code = 'insufficient_scope'
  readonly status = 403
  constructor(message: string, readonly requiredScope?: string) {
    super(message)
  }
}

/** Authenticated but not allowed (e.g. admin API with a wrong role). */
export class Forbidden extends PortcullisError {
  readonly code = 'forbidden'
  readonly status = 403
}

/** No such resource (or a disabled endpoint, which answers as if it did not exist). */
export class NotFound extends PortcullisError {
  readonly code = 'not_found'
  readonly status = 404
}

/** The change conflicts with the current state (RFC 9110 §15.5.10). */
export class Conflict extends PortcullisError {
  readonly code = 'conflict'
  readonly status = 409
}

/** Request body over its limit (RFC 9110 §15.5.14). */
export class PayloadTooLarge extends PortcullisError {
  readonly code = 'invalid_request'
  readonly status = 413
}

/** Request body of a content type the endpoint does not take (RFC 9110 §15.5.16). */
export class UnsupportedMediaType extends PortcullisError {
  readonly code = 'invalid_request'
  readonly status = 415
}

/** A dependency (database, JWKS, revocation feed) is unavailable; answer fast, retry later. */
export class ServiceUnavailable extends PortcullisError {
  readonly code = 'temporarily_unavailable'
  readonly status = 503
  /** `retryAfterSeconds`, when given, becomes the `Retry-After` header. */
  constructor(message: string, readonly retryAfterSeconds?: number, options?: { cause?: unknown }) {
    super(message, options)
    if (retryAfterSeconds !== undefined) this.headers['Retry-After'] = retryAfterHeader(retryAfterSeconds)
  }
}

/** The origin could not be reached or answered garbage. */
export class BadGateway extends PortcullisError {
  readonly code = 'bad_gateway'
  readonly status = 502
}

/** The origin did not answer within the timeout. */
export class GatewayTimeout extends PortcullisError {
  readonly code = 'gateway_timeout'
  readonly status = 504
}
