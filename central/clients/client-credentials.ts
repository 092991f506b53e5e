import { UnauthorizedClient } from '../../shared/client-errors'
import { clientSessionId } from '../../shared/identity-headers'
import type { Sql } from 'postgres'
import { InvalidClient, InvalidScope, InvalidTarget } from '../../shared/errors'
import type { Config } from '../config'
import { accessTokenType } from '../sessions/token-set'
import { mintAccessToken } from '../tokens/mint-access-token'
import type { SigningKey } from '../tokens/signing-keys'
import type { ClientRecord } from './client-record'
import { assertDpopProofSent } from './dpop-binding'
import { lockClientForIssue } from './store'

export interface ClientCredentialsRequest {
  /** RFC 6749 §3.3 `scope`, split; undefined: every scope the client is allowed. */
  scopes?: string[]
  /** RFC 8707 `resource`: one of the client's audiences; undefined: all of them. */
  resource?: string
  /** Thumbprint of the key a valid DPoP proof on this request was signed with (RFC 9449 §5). */
  dpopJkt?: string
}

/** What one client-credentials access token carries, and for how long. */
export interface ClientCredentialsGrant {
  clientId: string
  audiences: string[]
  scopes: string[]
  roles: string[]
  ttlSeconds: number
  /** RFC 9449 §6: the token is bound to this key (`cnf.jkt`); undefined for a Bearer token. */
  jkt: string | undefined
}

/**
 * What a client-credentials request may get: the client must be allowed the grant
 * (`unauthorized_client`), `resource` must be one of its audiences (`invalid_target`), the scopes
 * are the requested ones it holds (RFC 6749 §3.3 lets the server issue fewer than requested; none
 * at all is `invalid_scope`), and a client registered with `require_dpop` must send a proof.
 * The lifetime is the client's override, never longer than the service's access-token lifetime:
 * the revocation feed only reaches back that far.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
export function decideClientCredentials(
  client: ClientRecord,
  request: ClientCredentialsRequest,
  settings: { accessTokenTtlSeconds: number },
): ClientCredentialsGrant {
  if (!client.enabled) throw new UnauthorizedClient('client is disabled')
  if (client.type !== 'confidential' || !client.grantTypes.includes('client_credentials')) {
    throw new UnauthorizedClient('client is not allowed the client_credentials grant')
  }
  let audiences = client.audiences
  if (request.resource !== undefined) {
    if (!client.audiences.includes(request.resource)) throw new InvalidTarget('requested resource is not among the client\'s audiences')
    audiences = [request.resource]
  }
  // RFC 9068 §2.2: `aud` is required; a client registered without audiences cannot get a token.
  if (audiences.length === 0) throw new InvalidTarget('client has no audience to issue a token for')
  let scopes = client.scopes
  if (request.scopes !== undefined && request.scopes.length > 0) {
    scopes = [...new Set(request.scopes)].filter((scope) => client.scopes.includes(scope))
    if (scopes.length === 0) throw new InvalidScope('none of the requested scopes is allowed for this client')
  }
  assertDpopProofSent(client.requireDpop, request.dpopJkt)
  const ttlSeconds = Math.min(client.accessTokenTtlSeconds ?? settings.accessTokenTtlSeconds, settings.accessTokenTtlSeconds)
  return { clientId: client.clientId, audiences, scopes, roles: client.roles, ttlSeconds, jkt: request.dpopJkt }
}

/**
 * The issue time for a client's token: not before its not-before marker rounded up to the second.
 * The edge compares whole-second `iat` with the marker (`iat < not_before` is revoked); a token
 * minted in the marker's own second after a secret rotation must not look older than the marker.
 */
export function clientTokenIssuedAt(client: Pick<ClientRecord, 'notBefore'>, now: Date): Date {
  if (!client.notBefore) return now
  const markerSecond = Math.ceil(client.notBefore.getTime() / 1000) * 1000
  return now.getTime() >= markerSecond ? now : new Date(markerSecond)
}

/**
 * Signs the RFC 9068 access token for a client-credentials grant with `mintAccessToken`:
 * `sub` = `client_id` = the client (RFC 9068 §2.2: with no resource owner, `sub` is the client),
 * `sid` from `clientSessionId`, `cnf.jkt` when DPoP-bound (RFC 9449 §6.1), the client's lifetime,
 * and no refresh token (RFC 6749 §4.4.3).
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2
 */
export async function mintClientCredentialsToken(
  deps: { config: Pick<Config, 'ISSUER' | 'ACCESS_TOKEN_TTL_SECONDS'>; signingKey: SigningKey },
  client: Pick<ClientRecord, 'notBefore'>,
  grant: ClientCredentialsGrant,
  now: Date,
): Promise<{ accessToken: string; expiresIn: number; tokenType: 'Bearer' | 'DPoP'; scope: string }> {
  const issuedAt = clientTokenIssuedAt(client, now)
  const { accessToken } = await mintAccessToken(
    deps,
    {
      userId: grant.clientId,
      sessionId: clientSessionId(grant.clientId),
      clientId: grant.clientId,
      audiences: grant.audiences,
      scopes: grant.scopes,
      roles: grant.roles,
      confirmationJkt: grant.jkt,
      ttlSeconds: grant.ttlSeconds,
    },
    issuedAt,
  )
  // expires_in counts from now, so a token issued up to a second ahead is not reported as longer-lived.
  const expiresIn = Math.floor(issuedAt.getTime() / 1000) + grant.ttlSeconds - Math.floor(now.getTime() / 1000)
  return { accessToken, expiresIn, tokenType: accessTokenType(grant.jkt), scope: grant.scopes.join(' ') }
}

/**
 * Signs the client's token, then checks its row still says what the request was authenticated
 * and decided against: enabled, not deleted, the same not-before marker (a secret rotation,
 * narrowing, key removal or token revocation moves it). The check reads under a share lock
 * (`lockClientForIssue`): a change in flight commits first and is seen, and the token is refused
 * (`invalid_client`); a change that starts after the check takes its marker after it, so past
 * this token's `iat`. Two statements and no transaction: the lock is needed only at the check.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2
 */
export async function issueClientCredentialsToken(
  deps: { sql: Sql; config: Pick<Config, 'ISSUER' | 'ACCESS_TOKEN_TTL_SECONDS'>; signingKey: SigningKey },
  client: Pick<ClientRecord, 'clientId' | 'notBefore'>,
  grant: ClientCredentialsGrant,
  now: Date,
): Promise<Awaited<ReturnType<typeof mintClientCredentialsToken>>> {
  const token = await mintClientCredentialsToken(deps, client, grant, now)
  const state = await lockClientForIssue(deps.sql, client.clientId)
  if (!state || state.deleted || !state.enabled) throw new InvalidClient('client is disabled')
  if ((state.notBefore?.getTime() ?? null) !== (client.notBefore?.getTime() ?? null)) {
    throw new InvalidClient('client registration changed during this request; authenticate again')
  }
  return token
}
