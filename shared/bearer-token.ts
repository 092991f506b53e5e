/** RFC 6750 §2.1: `Bearer` (any case), then a `b64token`, the only shape a Bearer credential has. */
const BEARER_CREDENTIALS = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i

/**
 * The token of an `Authorization: Bearer …` header value, or undefined when the value is anything
 * else (another scheme, two credentials joined by a comma, characters outside `b64token`).
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function readBearerToken(authorization: string): string | undefined {
  return BEARER_CREDENTIALS.exec(authorization.trim())?.[1]
}
