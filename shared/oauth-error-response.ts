import { dpopChallenge, DpopTokenRequired } from './dpop-errors'
import { InsufficientScope, InvalidBearerRequest, InvalidToken, PortcullisError } from './errors'

/** JSON body of every error answer: RFC 6749 §5.2 shape. */
export interface OAuthErrorBody {
  error: string
  error_description?: string
}

/**
 * The one place that turns a `PortcullisError` into an HTTP response.
 * Token endpoint and JSON APIs get an RFC 6749 §5.2 body; 401/403 from a resource
 * (the edge, Bearer-protected central routes) also carry an RFC 6750 §3 challenge, or an RFC 9449
 * §7.1 `DPoP` one where the answer is about DPoP (`InvalidDpopProof` at a resource carries its own).
 * Anything that is not a `PortcullisError` becomes a bare 500 — never a stack trace.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function toErrorResponse(error: unknown, options: { realm?: string } = {}): Response {
  if (!(error instanceof PortcullisError)) {
    return jsonResponse(500, { error: 'server_error' }, {})
  }
  const headers: Record<string, string> = { ...error.headers }
  if (error instanceof DpopTokenRequired) {
    headers['WWW-Authenticate'] = `${dpopChallenge(error.code, error.algorithms)}, error_description="${quote(error.message)}"`
  } else if (error instanceof InvalidToken || error instanceof InsufficientScope || error instanceof InvalidBearerRequest) {
    headers['WWW-Authenticate'] = bearerChallenge(error, options.realm)
  }
  return jsonResponse(error.status, { error: error.code, error_description: error.message }, headers)
}

/**
 * RFC 6750 §3: `Bearer realm="…", error="…", error_description="…"[, scope="…"]`.
 * With no token presented at all (`InvalidToken` marked `noTokenPresented`), §3.1 says the
 * challenge carries no error code.
 */
export function bearerChallenge(error: InvalidToken | InsufficientScope | InvalidBearerRequest | undefined, realm = 'portcullis'): string {
  const params = [`realm="${quote(realm)}"`]
  if (error && !(error instanceof InvalidToken && error.noTokenPresented)) {
    params.push(`error="${error.code}"`, `error_description="${quote(error.message)}"`)
    if (error instanceof InsufficientScope && error.requiredScope) {
      params.push(`scope="${quote(error.requiredScope)}"`)
    }
  }
  return `Bearer ${params.join(', ')}`
}

function quote(value: string): string {
  // RFC 7230 quoted-string: escape backslash and double quote, drop control characters.
  return value.replace(/[\\"]/g, '\\$&').replace(/[\u0000-\u001f\u007f]/g, ' ')
}

function jsonResponse(status: number, body: OAuthErrorBody, headers: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      ...headers,
    },
  })
}
