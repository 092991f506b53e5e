import { readBearerToken } from './bearer-token'
import { currentUserFromHeaders, type CurrentUser, type HeaderSource } from './current-user'
import { InvalidToken } from './errors'
import { toErrorResponse } from './oauth-error-response'
import { createCurrentUserVerifier, type TokenVerifierOptions } from './verify-current-user'

/** What every framework's CurrentUser middleware takes. */
export interface CurrentUserMiddlewareOptions {
  /**
   * Re-verify the access token the edge forwards (`FORWARD_AUTHORIZATION=true`) instead of trusting
   * the identity headers: `createCurrentUserVerifier` options (issuer, audience, jwksUrl), or a
   * verifier you built. Then the identity headers are ignored.
   */
  verify?: TokenVerifierOptions | ((token: string) => Promise<CurrentUser>)
  /** Answer 401 (RFC 6750 §3.1) when there is no caller; else the route sees `null`. */
  required?: boolean
  /** Identity header prefix, if the edge was configured with another one. */
  prefix?: string
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
}

/** The caller (or `null` on a public route), or the answer to send instead of running the route. */
export type CurrentUserResolution = { kind: 'resolved'; user: CurrentUser | null } | { kind: 'refused'; response: Response }

/**
 * The framework-neutral half of the Express, Fastify and Hono middleware: headers in, the caller or
 * an RFC 6750 refusal out (built by `toErrorResponse`, as the edge builds its own).
 */
export function createCurrentUserResolver(options: CurrentUserMiddlewareOptions = {}): (headers: HeaderSource) => Promise<CurrentUserResolution> {
  const verify = typeof options.verify === 'function' ? options.verify : options.verify ? createCurrentUserVerifier(options.verify) : undefined
  const refuse = (error: unknown): CurrentUserResolution => ({ kind: 'refused', response: toErrorResponse(error, { realm: options.realm }) })
  return async (headers) => {
    let user: CurrentUser | null
    if (verify) {
      const authorization = readHeader(headers, 'authorization')
      const token = authorization === undefined ? undefined : readForwardedToken(authorization)
      if (authorization !== undefined && token === undefined) return refuse(new InvalidToken('Authorization header must be "Bearer <token>"'))
      try {
        user = token === undefined ? null : await verify(token)
      } catch (error) {
        return refuse(error instanceof InvalidToken ? error : new InvalidToken('access token failed verification', { cause: error }))
      }
    } else {
      user = currentUserFromHeaders(headers, { prefix: options.prefix })
    }
    if (!user && options.required) return refuse(InvalidToken.missing('this route needs an authenticated caller'))
    return { kind: 'resolved', user }
  }
}

/** A refusal as plain data, for frameworks that answer with status, headers and a string body. */
export async function refusalParts(response: Response): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() }
}

/** The edge forwards `Bearer` tokens, and `DPoP` ones after checking their proof (RFC 9449 §7.1). */
function readForwardedToken(authorization: string): string | undefined {
  return readBearerToken(authorization) ?? /^DPoP +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim())?.[1]
}

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}
