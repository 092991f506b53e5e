import { reportWrittenAuditEvents } from '../audit/collect-audit-events'
import { decideDpopBinding } from '../clients/dpop-binding'
import { mintAccessToken } from '../tokens/mint-access-token'
import { getSigningKey } from '../tokens/signing-keys'
import { InvalidGrant } from '../../shared/errors'
import { DEFAULT_CLIENT_ID } from './default-client'
import type { SessionDeps } from './session-settings'
import { decideRefresh, successorSource, UNKNOWN_TOKEN_REASON } from './decide-refresh'
import { boundByUserGrant, narrowGrant, type FullGrant } from './narrow-grant'
import { newSuccessorSalt, openSuccessor, readIssuedRefreshToken, sha256RefreshToken, successorRefreshToken } from './refresh-token'
import type { SessionRecord } from './session-record'
import { findLegacyTokenSession, refreshedEvent, refreshSessionRow, revokeSessionForReuse } from './store'
import { audiencesOrIssuer, type TokenSet } from './token-set'

/**
 * The client a refresh is for. The refresh statement rotates only for the client the session was
 * issued to; a client `named` by a request without credentials (a public or implicit one) is also
 * checked by the statement itself (see RefreshClientCheck in ./store.ts), so a refresh costs no
 * separate lookup. Only a refresh that does not rotate calls `assertMayRefresh`, which throws the
 * client's error (e.g. `invalid_client`) when the client may not refresh.
 */
export type RefreshClient =
  /** The caller established the client: authenticated it, or vouches for the default one. */
  | { kind: 'established'; clientId: string }
  /** Named without credentials; `implicitAllowed`: an unregistered id of this shape may act as an implicit client. */
  | { kind: 'named'; clientId: string; implicitAllowed: boolean; assertMayRefresh: () => Promise<void> }

export interface RefreshRequest {
  refreshToken: string
  /** Absent: the default client, established. */
  client?: RefreshClient
  /** RFC 6749 §6 `scope`, already split; narrows the access token. */
  scopes?: string[]
  /** RFC 8707 `resource`: one audience for the access token. */
  resource?: string
  /** RFC 7638 thumbprint of the key of the request's DPoP proof, already verified (RFC 9449 §5). */
  dpopJkt?: string
  ip: string | null
  userAgent: string | null
}

/**
 * How often the refresh statement runs again after a concurrent refresh or revoke of the same
 * session changed the row under it. Each retry sees the winner's committed row, on which the
 * token is no longer current, so one retry settles it; the bound only guards against a bug.
 */
const MAX_STATEMENT_RUNS = 4

/**
 * RFC 6749 §6 refresh with rotation, decided by the database in one statement (see the comment
 * block in ./store.ts): the presented token is current → rotated, with its audit event; else the
 * row comes back unchanged and the pure decideRefresh says replay (the identical successor, within
 * REFRESH_GRACE_SECONDS), reuse (revoke, one more statement) or reject. A statement that fails
 * changes nothing, so the presented token stays exactly as valid as before; a response lost after
 * the rotation committed is answered again, identically, by a retry within the grace window.
 * A DPoP-bound chain needs a proof by its key before anything else is considered (RFC 9449 §5).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
export async function refreshSession(deps: SessionDeps, request: RefreshRequest): Promise<TokenSet> {
  const settings = deps.sessions
  const client = request.client ?? { kind: 'established', clientId: DEFAULT_CLIENT_ID }
  const { clientId } = client
  // Before any refusal or reuse decision, as when the client is authenticated before the refresh:
  // the client's own error comes first, and a client that may not refresh revokes nothing.
  const checkNamedClient = async () => {
    if (client.kind === 'named') await client.assertMayRefresh()
  }
  // Garbage, truncated, oversized, non-canonical or forged tokens never reach the database: every
  // token of the current format central issued carries a tag that verifies under the chain key.
  const presented = readIssuedRefreshToken(request.refreshToken, settings.chainKey)
  if (!presented) {
    await checkNamedClient()
    throw new InvalidGrant(UNKNOWN_TOKEN_REASON)
  }
  const now = deps.clock()

  let sessionId: string | undefined
  let generation = 0
  if (presented.kind === 'chained') {
    sessionId = presented.sessionId
    generation = presented.generation
  } else {
    // The earlier format names no session: its hash finds it (only until the chain rotates once).
    sessionId = await findLegacyTokenSession(deps.sql, presented.tokenHash)
  }
  if (sessionId === undefined) {
    await checkNamedClient()
    throw new InvalidGrant(UNKNOWN_TOKEN_REASON)
  }

  // Made before the statement, used only if it rotates: the next position, derived from this token.
  const successorSalt = newSuccessorSalt()
  const successor = successorRefreshToken(settings.chainKey, request.refreshToken, successorSalt, sessionId, generation + 1)
  const attempt = {
    sessionId,
    tokenHash: presented.tokenHash,
    generation,
    clientId,
    clientCheck: client.kind === 'named' ? { kind: 'may-refresh-unauthenticated' as const, implicitAllowed: client.implicitAllowed } : { kind: 'established' as const },
    dpopJkt: request.dpopJkt ?? null,
    resource: request.resource ?? null,
    scopes: request.scopes ?? null,
    successorHash: sha256RefreshToken(successor),
    successorSalt,
    now,
    idleUntil: new Date(now.getTime() + settings.idleTtlSeconds * 1000),
    ip: request.ip,
    userAgent: request.userAgent,
    recordEvent: settings.recordRefreshEvents,
  }

  for (let run = 0; run < MAX_STATEMENT_RUNS; run++) {
    const result = await refreshSessionRow(deps.sql, attempt)
    if (result.kind === 'rotated') {
      const { session } = result
      reportWrittenAuditEvents([refreshedEvent({ now, userId: session.userId, sessionId, ip: request.ip, userAgent: request.userAgent })])
      // The statement's WHERE clause allowed the binding; this names the access token's key.
      const binding = decideDpopBinding(session.dpopJkt, request.dpopJkt)
      if (binding.kind === 'refuse') throw new Error('refresh statement rotated a chain its DPoP rule refuses')
      return await issue(deps, session, request, successor, binding.accessTokenJkt, now)
    }

    await checkNamedClient()
    const { session } = result
    if (!session) throw new InvalidGrant(UNKNOWN_TOKEN_REASON)
    const decision = decideRefresh({ session, presented, clientId, dpopJkt: request.dpopJkt, now, graceSeconds: settings.graceSeconds })
    switch (decision.kind) {
      case 'reject':
        throw new InvalidGrant(decision.reason)
      case 'reuse':
        await revokeSessionForReuse(deps.sql, { session, now, ip: request.ip, userAgent: request.userAgent })
        throw new InvalidGrant('refresh token was already used; the session is revoked')
      case 'replay': {
        // The rotation's derivation again, with its salt; or the sealed copy the release before kept.
        const { chain } = session
        const current =
          successorSource(chain) === 'sealed'
            ? openSuccessor(request.refreshToken, chain.successorSealed!, session.id)
            : successorRefreshToken(settings.chainKey, request.refreshToken, chain.successorSalt!, session.id, generation + 1)
        return await issue(deps, session, request, current, decision.accessTokenJkt, now)
      }
      case 'rotate':
        // Current by the statement's snapshot, yet not rotated: either the request asks for more
        // than the grant (narrowGrant says which, nothing was spent), or a concurrent refresh,
        // revoke or client change took the row first (run again on a fresh snapshot).
        narrowGrant(heldGrant(session), { resource: request.resource, scopes: request.scopes })
        continue
    }
  }
  throw new Error('refresh statement kept losing the session row to concurrent changes')
}

/** What the session may still grant: never more than its user holds NOW (see boundByUserGrant). */
function heldGrant(session: SessionRecord): FullGrant {
  return boundByUserGrant(session, session.userGrant)
}

async function issue(deps: SessionDeps, session: SessionRecord, request: RefreshRequest, refreshToken: string, jkt: string | undefined, now: Date): Promise<TokenSet> {
  const { config, sessions: settings } = deps
  const held = heldGrant(session)
  const grant = narrowGrant(held, { resource: request.resource, scopes: request.scopes })
  const signingKey = await getSigningKey(deps.sql, config, now)
  const { accessToken, expiresIn } = await mintAccessToken(
    { config, signingKey },
    {
      userId: session.userId,
      sessionId: session.id,
      clientId: session.clientId,
      audiences: audiencesOrIssuer(grant.audiences, settings.issuer),
      scopes: grant.scopes,
      roles: held.roles,
      confirmationJkt: jkt,
    },
    now,
  )
  return { accessToken, refreshToken, expiresIn, scope: grant.scopes.join(' '), sessionId: session.id, confirmationJkt: jkt }
}
