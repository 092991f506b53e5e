import type { Sql } from 'postgres'
import { checkDpopProofReplay, DPOP_ALGORITHMS, verifyDpopProof } from '../../shared/dpop-proof'
import { DpopTokenRequired, InvalidDpopProof } from '../../shared/dpop-errors'
import { UnauthorizedClient } from '../../shared/client-errors'
import type { Clock } from '../clock'
import type { Config } from '../config'
import type { RefreshClient } from '../sessions/refresh-session'
import { authenticateClient, implicitClientAllowed, readClientCredentials, type AuthenticatedClient, type PresentedClientCredentials, type TokenRequestClientParts } from './authenticate-client'
import type { ClientKeySets } from './client-key-sets'
import { assertDpopProofSent } from './dpop-binding'
import type { ClientGrantType } from './client-record'
import { dpopProofReplayGuard, findClientRegistration, recordClientAssertionJti } from './store'

/** What authenticating a client and checking its DPoP proof need; `AppDeps` has all of it. */
export interface ClientEndpointDeps {
  sql: Sql
  config: Config
  clock: Clock
  clientKeySets: ClientKeySets
}

/**
 * Where clients address one of central's endpoints: the public base URL (the edge's origin when
 * central sits behind it), never the URL central itself was reached at. A client's assertion
 * `aud` and a DPoP proof's `htu` name this URL.
 */
export function publicEndpointUrl(config: Pick<Config, 'PUBLIC_URL' | 'ISSUER'>, path: string): string {
  return `${(config.PUBLIC_URL ?? config.ISSUER).replace(/\/$/, '')}${path}`
}

/**
 * Reads the client's credentials from a token (or revocation) request, looks the client up and
 * authenticates it: `readClientCredentials` → `findClientRegistration` → `authenticateClient`.
 * `endpointUrl` is the public URL of the endpoint the request went to (an assertion's `aud`).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
 */
export async function authenticateRequestClient(
  deps: ClientEndpointDeps,
  parts: TokenRequestClientParts,
  options: { endpointUrl: string; defaultClientId: string },
): Promise<AuthenticatedClient> {
  return await authenticatePresentedClient(deps, readClientCredentials(parts, options.defaultClientId), options)
}

/** Looks up the client whose credentials the request presented, and authenticates it. */
export async function authenticatePresentedClient(
  deps: ClientEndpointDeps,
  presented: PresentedClientCredentials,
  options: { endpointUrl: string },
): Promise<AuthenticatedClient> {
  const client = await findClientRegistration(deps.sql, presented.clientId)
  return await authenticateClient(presented, client, {
    tokenEndpointUrl: options.endpointUrl,
    issuer: deps.config.ISSUER,
    now: deps.clock(),
    clockToleranceSeconds: deps.config.CLOCK_TOLERANCE_SECONDS,
    requireRegisteredClients: deps.config.REQUIRE_REGISTERED_CLIENTS,
    keySets: deps.clientKeySets,
    recordAssertionJti: (input) => recordClientAssertionJti(deps.sql, input),
  })
}

/** The client's id, registered or implicit. */
export function authenticatedClientId(client: AuthenticatedClient): string {
  return client.kind === 'registered' ? client.client.clientId : client.clientId
}

/**
 * A registered client may use only the grant types it was registered with (RFC 7591 §2
 * `grant_types`); an implicit client keeps the password, cookie and refresh flows it always had.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function requireClientGrant(client: AuthenticatedClient, grant: ClientGrantType): void {
  if (client.kind === 'registered' && !client.client.grantTypes.includes(grant)) {
    throw new UnauthorizedClient(`client is not allowed the ${grant} grant`)
  }
}

/**
 * The DPoP proof of a request to one of central's endpoints (RFC 9449 §4.3), checked against the
 * endpoint's public URL, then recorded so it is accepted once across every central instance
 * (§11.1). Returns the proof key's thumbprint to bind the tokens to, or undefined when there is
 * no proof and none is required (a client registered with `require_dpop` must send one).
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
export async function verifyRequestDpopProof(
  deps: ClientEndpointDeps,
  proof: string | undefined,
  request: { method: string; url: string; required: boolean },
): Promise<string | undefined> {
  if (proof === undefined) {
    assertDpopProofSent(request.required, undefined)
    return undefined
  }
  const window = { maxAgeSeconds: deps.config.DPOP_PROOF_MAX_AGE_SECONDS, clockToleranceSeconds: deps.config.CLOCK_TOLERANCE_SECONDS }
  const verified = await verifyDpopProof(proof, { method: request.method, url: request.url, now: deps.clock(), ...window })
  await checkDpopProofReplay(dpopProofReplayGuard(deps.sql), verified, window)
  return verified.jkt
}

/**
 * The refresh grant's client when the request carries no credentials (a public or implicit
 * client): not looked up before the refresh, whose statement checks it (RefreshClientCheck);
 * only when that refuses is it looked up, and `assertMayRefresh` throws what authenticating it, its
 * grant types or its DPoP requirement would have (`dpopJkt`: the request's verified proof key).
 */
export function unauthenticatedRefreshClient(
  config: Pick<Config, 'REQUIRE_REGISTERED_CLIENTS'>,
  clientId: string,
  check: { authenticate: () => Promise<AuthenticatedClient>; dpopJkt: string | undefined },
): RefreshClient {
  const mayRefresh = async () => {
    const client = await check.authenticate()
    requireClientGrant(client, 'refresh_token')
    assertDpopProofSent(clientRequiresDpop(client), check.dpopJkt)
  }
  // One lookup per request, however often the refresh statement runs again.
  let checked: Promise<void> | undefined
  return {
    kind: 'named',
    clientId,
    implicitAllowed: implicitClientAllowed(clientId, config.REQUIRE_REGISTERED_CLIENTS),
    assertMayRefresh: () => (checked ??= mayRefresh()),
  }
}

/** Whether the client is registered with `require_dpop`. */
export function clientRequiresDpop(client: AuthenticatedClient): boolean {
  return client.kind === 'registered' && client.client.requireDpop
}

/**
 * RFC 9449 §7 at central's own Bearer-protected routes (`/auth/*`): a DPoP-bound access token is
 * accepted only with the `DPoP` scheme and a proof for this request (method, public URL, `ath`,
 * signed by the bound key, not seen before); an unbound token not with the `DPoP` scheme. Failures
 * are 401 with a `DPoP` challenge, as at the edge.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export async function checkResourceDpopBinding(
  deps: ClientEndpointDeps,
  request: { scheme: 'bearer' | 'dpop' | 'cookie'; accessToken: string; boundJkt: string | undefined; proof: string | undefined; method: string; url: string },
): Promise<void> {
  if (request.boundJkt === undefined) {
    if (request.scheme === 'dpop') throw new DpopTokenRequired('the DPoP scheme needs a DPoP-bound token; send this one as Bearer', { reason: 'not_dpop_bound', algorithms: DPOP_ALGORITHMS })
    return
  }
  if (request.scheme !== 'dpop') {
    throw new DpopTokenRequired('a DPoP-bound token must be sent with the DPoP scheme and a proof', { reason: 'dpop_required', algorithms: DPOP_ALGORITHMS })
  }
  const window = { maxAgeSeconds: deps.config.DPOP_PROOF_MAX_AGE_SECONDS, clockToleranceSeconds: deps.config.CLOCK_TOLERANCE_SECONDS }
  try {
    const verified = await verifyDpopProof(request.proof, {
      method: request.method,
      url: request.url,
      accessToken: request.accessToken,
      boundJkt: request.boundJkt,
      now: deps.clock(),
      ...window,
    })
    await checkDpopProofReplay(dpopProofReplayGuard(deps.sql), verified, window)
  } catch (error) {
    if (error instanceof InvalidDpopProof) throw error.atResource(DPOP_ALGORITHMS)
    throw error
  }
}
