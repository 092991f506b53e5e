import { decodeJwt, errors, jwtVerify } from 'jose'
import { InvalidClient, InvalidRequest } from '../../shared/errors'
import type { ClientKeySets } from './client-key-sets'
import type { ClientRecord, ClientRegistration, TokenEndpointAuthMethod } from './client-record'
import { ClientIdSchema } from './client-schema'
import { clientSecretMatches } from './client-secret'

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/**
 * Algorithms a client assertion may use: asymmetric only, so the server holds nothing that could
 * sign one (no `client_secret_jwt`, whose HMAC key would be the secret we refuse to store).
 */
export const CLIENT_ASSERTION_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512']

/** An assertion may not be valid for longer than this from now: it is made for one request. */
export const MAX_CLIENT_ASSERTION_LIFETIME_SECONDS = 300

const BASIC_CHALLENGE = 'Basic realm="portcullis", charset="UTF-8"'

/** The parts of a token request that can identify or authenticate the client (RFC 6749 §2.3). */
export interface TokenRequestClientParts {
  /** The `Authorization` header value. */
  authorization?: string | null
  clientId?: string
  clientSecret?: string
  clientAssertionType?: string
  clientAssertion?: string
}

/** How the request says who the client is; `clientId` is what to look the registration up by. */
export type PresentedClientCredentials =
  | { kind: 'none'; clientId: string }
  | { kind: 'secret'; method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { kind: 'assertion'; clientId: string; assertion: string }

/**
 * Reads the client's credentials from the request, refusing more than one method (RFC 6749 §2.3:
 * "MUST NOT use more than one authentication method in each request"). `defaultClientId` names the
 * client of a request that names none (the implicit `web` client of the cookie flows).
 * Throws `InvalidClient` (with a Basic challenge) for a malformed `Authorization` header.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
 */
export function readClientCredentials(parts: TokenRequestClientParts, defaultClientId: string): PresentedClientCredentials {
  const basic = parts.authorization ? readBasicCredentials(parts.authorization) : undefined
  const methods = [basic, parts.clientSecret, parts.clientAssertion].filter((part) => part !== undefined)
  if (methods.length > 1) throw new InvalidRequest('use one client authentication method per request')
  if (parts.clientAssertionType !== undefined && parts.clientAssertion === undefined) {
    throw new InvalidRequest('client_assertion_type without client_assertion')
  }
  if (basic) {
    if (parts.clientId !== undefined && parts.clientId !== basic.clientId) {
      throw new InvalidRequest('client_id differs from the client in the Authorization header')
    }
    return { kind: 'secret', method: 'client_secret_basic', clientId: basic.clientId, secret: basic.secret }
  }
  if (parts.clientSecret !== undefined) {
    if (parts.clientId === undefined) throw new InvalidRequest('client_secret without client_id')
    return { kind: 'secret', method: 'client_secret_post', clientId: parts.clientId, secret: parts.clientSecret }
  }
  if (parts.clientAssertion !== undefined) {
    if (parts.clientAssertionType !== CLIENT_ASSERTION_TYPE) throw new InvalidRequest(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`)
    // RFC 7523 §3: client_id is optional; the assertion's `sub` names the client. Unverified here:
    // used only to find the registration whose keys then verify it (and `sub` again).
    const clientId = parts.clientId ?? assertionSubject(parts.clientAssertion)
    return { kind: 'assertion', clientId, assertion: parts.clientAssertion }
  }
  return { kind: 'none', clientId: parts.clientId ?? defaultClientId }
}

/**
 * RFC 6749 §2.3.1: `Basic base64(urlencode(client_id) ":" urlencode(client_secret))`.
 * Any other scheme at the token endpoint is refused, as is anything malformed.
 */
function readBasicCredentials(authorization: string): { clientId: string; secret: string } {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization)
  if (!match) throw basicFailure('the Authorization header must be Basic client credentials')
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) throw basicFailure('Basic credentials lack the ":" separator')
  try {
    const clientId = formDecode(decoded.slice(0, colon))
    const secret = formDecode(decoded.slice(colon + 1))
    if (clientId === '' || secret === '') throw basicFailure('Basic credentials have an empty client_id or secret')
    return { clientId, secret }
  } catch (error) {
    if (error instanceof InvalidClient) throw error
    throw basicFailure('Basic credentials are not form-urlencoded', error)
  }
}

const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '))

function assertionSubject(assertion: string): string {
  try {
    const { sub } = decodeJwt(assertion)
    if (typeof sub === 'string' && sub !== '') return sub
  } catch {
    // Falls through: a malformed assertion names no client.
  }
  throw new InvalidClient('client assertion names no client (sub)')
}

/** RFC 6749 §5.2: a client that tried the Authorization header gets 401 with a matching challenge. */
function basicFailure(message: string, cause?: unknown): InvalidClient {
  const error = new InvalidClient(message, cause === undefined ? undefined : { cause })
  error.headers['WWW-Authenticate'] = BASIC_CHALLENGE
  return error
}

function failure(presented: PresentedClientCredentials, message: string, cause?: unknown): InvalidClient {
  if (presented.kind === 'secret' && presented.method === 'client_secret_basic') return basicFailure(message, cause)
  return new InvalidClient(message, cause === undefined ? undefined : { cause })
}

export interface ClientAuthenticationContext {
  /** The token endpoint's URL as clients address it (an assertion's `aud` may be it). */
  tokenEndpointUrl: string
  /** The issuer identifier (an assertion's `aud` may be it, too). */
  issuer: string
  now: Date
  clockToleranceSeconds: number
  /** When false, an unregistered client id with no credentials is an implicit public client. */
  requireRegisteredClients: boolean
  keySets: ClientKeySets
  /** Records an assertion's `jti` for the client; false when it was used before (`recordClientAssertionJti`). */
  recordAssertionJti: (input: { clientId: string; jti: string; expiresAt: Date }) => Promise<boolean>
}

export type AuthenticatedClient =
  /** A registered client that proved who it is (or a registered public client, which cannot). */
  | { kind: 'registered'; client: ClientRecord; method: TokenEndpointAuthMethod }
  /** An unregistered id with no credentials, allowed for the password, cookie and refresh flows only. */
  | { kind: 'implicit'; clientId: string }

/** Whether an unregistered id named without credentials may act as an implicit public client (see authenticateClient). */
export function implicitClientAllowed(clientId: string, requireRegisteredClients: boolean): boolean {
  return !requireRegisteredClients && ClientIdSchema.safeParse(clientId).success
}

/**
 * Authenticates the client of a token request against its registration (`client`, looked up by
 * `presented.clientId`; undefined when unregistered, `'deleted'` when the id belonged to a client
 * that was deleted: that id is never free for implicit use, or the deleted client's sessions and
 * name would live on without credentials). An implicit id follows the registered ids' rule
 * (`ClientIdSchema`: never UUID-shaped, so never a user's id). The method must be the one registered
 * (RFC 7591 §2 `token_endpoint_auth_method`). Throws `InvalidClient`, with `WWW-Authenticate: Basic`
 * when Basic credentials were tried.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.2.1
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication
 */
export async function authenticateClient(
  presented: PresentedClientCredentials,
  client: ClientRegistration,
  context: ClientAuthenticationContext,
): Promise<AuthenticatedClient> {
  if (client === undefined && presented.kind === 'none' && !context.requireRegisteredClients) {
    if (!implicitClientAllowed(presented.clientId, context.requireRegisteredClients)) {
      throw failure(presented, 'client_id must be letters, digits and ._~- (up to 128), and not a UUID')
    }
    return { kind: 'implicit', clientId: presented.clientId }
  }
  // One answer for an unknown or deleted id and wrong credentials: a caller learns nothing from the difference.
  if (client === undefined || client === 'deleted') throw failure(presented, 'client authentication failed')
  if (client.clientId !== presented.clientId) throw new Error('client record does not match the presented client_id')
  const registered = client.tokenEndpointAuthMethod
  switch (presented.kind) {
    case 'none':
      if (registered !== 'none') throw failure(presented, 'this client must authenticate')
      break
    case 'secret':
      if (registered !== presented.method || !client.secretHash || !clientSecretMatches(client.secretHash, presented.secret)) {
        throw failure(presented, 'client authentication failed')
      }
      break
    case 'assertion':
      if (registered !== 'private_key_jwt') throw failure(presented, 'client authentication failed')
      await verifyClientAssertion(presented.assertion, client, context)
      break
  }
  // After the credentials: only a client that proved who it is learns that it is disabled.
  if (!client.enabled) throw failure(presented, 'client is disabled')
  return { kind: 'registered', client, method: registered }
}

/**
 * RFC 7523 §3 and OIDC Core §9 `private_key_jwt`: signed by one of the client's keys with an
 * asymmetric algorithm, `iss` = `sub` = client_id, `aud` the token endpoint or the issuer, a short
 * `exp`, no `iat` in the future, and a `jti` never used before (recorded only once the signature
 * verified, so forged assertions cannot use up identifiers).
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
async function verifyClientAssertion(assertion: string, client: ClientRecord, context: ClientAuthenticationContext): Promise<void> {
  const presented = { kind: 'assertion', clientId: client.clientId, assertion } as const
  const keySet = context.keySets.forClient(client)
  if (!keySet) throw failure(presented, 'client has no registered keys')
  const tolerance = context.clockToleranceSeconds
  let payload
  try {
    ;({ payload } = await jwtVerify(assertion, keySet, {
      algorithms: CLIENT_ASSERTION_ALGORITHMS,
      issuer: client.clientId,
      subject: client.clientId,
      audience: [context.tokenEndpointUrl, context.issuer],
      requiredClaims: ['exp', 'jti'],
      currentDate: context.now,
      clockTolerance: tolerance,
    }))
  } catch (error) {
    throw failure(presented, assertionFailureMessage(error), error)
  }
  const nowSeconds = context.now.getTime() / 1000
  if (payload.exp! > nowSeconds + MAX_CLIENT_ASSERTION_LIFETIME_SECONDS + tolerance) {
    throw failure(presented, `client assertion must expire within ${MAX_CLIENT_ASSERTION_LIFETIME_SECONDS} seconds`)
  }
  if (payload.iat !== undefined && payload.iat > nowSeconds + tolerance) throw failure(presented, 'client assertion was issued in the future')
  const jti = payload.jti
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw failure(presented, 'client assertion jti is malformed')
  const expiresAt = new Date((payload.exp! + tolerance) * 1000)
  if (!(await context.recordAssertionJti({ clientId: client.clientId, jti, expiresAt }))) {
    throw failure(presented, 'client assertion was used before')
  }
}

/** Names the rule an assertion failed, from jose's error classes (never the assertion itself). */
function assertionFailureMessage(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'client assertion has expired'
  if (error instanceof errors.JWTClaimValidationFailed) return `client assertion ${error.claim} is not accepted`
  if (error instanceof errors.JOSEAlgNotAllowed) return 'client assertion algorithm is not an accepted asymmetric algorithm'
  if (error instanceof errors.JWKSNoMatchingKey) return 'no registered key of the client matches the assertion'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'client assertion signature does not verify'
  if (error instanceof errors.JWKSTimeout) return 'client key set did not answer in time'
  return 'client assertion is not valid'
}
