import { decideDpopBinding } from '../clients/dpop-binding'
import type { PresentedRefreshToken } from './refresh-token'
import type { RefreshChain, SessionRecord } from './session-record'
import { sessionState } from './session-record'

export type RefreshDecision =
  /** Spend the token and issue a successor; the access token is bound to `accessTokenJkt` when set. */
  | { kind: 'rotate'; accessTokenJkt: string | undefined }
  /** The previous token, within the grace window: hand back the identical successor. */
  | { kind: 'replay'; accessTokenJkt: string | undefined }
  /** A genuine earlier token of this chain outside the grace window: theft signal, revoke the session. */
  | { kind: 'reuse' }
  /** Refuse without changing anything. */
  | { kind: 'reject'; reason: string }

/** Reason of the rejection for a session past its idle or absolute lifetime; metrics count it apart. */
export const SESSION_EXPIRED_REASON = 'session has expired'

/** Reason of the rejection for a token that is not (provably) one of this session's. */
export const UNKNOWN_TOKEN_REASON = 'refresh token is not valid'

export interface RefreshDecisionInput {
  session: SessionRecord
  /** An earlier-format token comes only with the session its hash was found under in legacy_refresh_tokens: one central issued to it. */
  presented: PresentedRefreshToken
  /** client_id the caller presented; absent means the default client. */
  clientId: string
  /** Thumbprint of the DPoP proof sent with the request (already verified), if any. */
  dpopJkt?: string
  now: Date
  graceSeconds: number
}

/**
 * What to do with a presented refresh token, given its session row. Pure: data in, decision out.
 * Order matters: a dead session rejects before reuse is considered (nothing left to revoke);
 * another client's token, and a bound chain without a proof by its key, are refused without
 * revoking (RFC 6749 §6, RFC 9449 §5: the presenter proved nothing, and revoking on it would let
 * anyone holding a copied token end the holder's session). Only then is the token placed in the chain:
 * - the current token rotates;
 * - the previous token within REFRESH_GRACE_SECONDS of its rotation replays the current one;
 * - the previous token after it, or any earlier token proven genuine (its keyed tag verifies, or,
 *   for the earlier format, its hash is on record) is reuse;
 * - anything else (a forged or mangled token naming this session) is unknown, and changes nothing.
 *   Knowing a `sid` is not enough to revoke its session.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
export function decideRefresh(input: RefreshDecisionInput): RefreshDecision {
  const { session, presented, now } = input
  const state = sessionState(session, now)
  if (state === 'revoked') return { kind: 'reject', reason: 'session is revoked' }
  if (state === 'expired') return { kind: 'reject', reason: SESSION_EXPIRED_REASON }
  if (!session.userEnabled) return { kind: 'reject', reason: 'user is disabled' }
  if (session.clientId !== input.clientId) return { kind: 'reject', reason: 'refresh token was issued to another client' }
  const binding = decideDpopBinding(session.dpopJkt, input.dpopJkt)
  if (binding.kind === 'refuse') return { kind: 'reject', reason: binding.reason }

  const { chain } = session
  if (chain.tokenHash?.equals(presented.tokenHash)) return { kind: 'rotate', accessTokenJkt: binding.accessTokenJkt }
  if (chain.previousTokenHash?.equals(presented.tokenHash)) {
    const sinceRotationMs = now.getTime() - session.lastUsedAt.getTime()
    if (sinceRotationMs <= input.graceSeconds * 1000 && successorSource(chain)) return { kind: 'replay', accessTokenJkt: binding.accessTokenJkt }
    return { kind: 'reuse' }
  }
  const genuineEarlier =
    presented.kind === 'legacy' || (presented.genuine && presented.sessionId === session.id && presented.generation < chain.generation)
  return genuineEarlier ? { kind: 'reuse' } : { kind: 'reject', reason: UNKNOWN_TOKEN_REASON }
}

/**
 * How a replay of the previous token gets the current one back: `derived` again from the previous
 * token with the rotation's salt, `sealed` on a row last rotated by the release before, which kept
 * it sealed; undefined for a row whose previous token rotated before either existed (migrated),
 * which cannot replay.
 */
export function successorSource(chain: RefreshChain): 'derived' | 'sealed' | undefined {
  if (chain.successorSealed) return 'sealed'
  return chain.successorSalt ? 'derived' : undefined
}
