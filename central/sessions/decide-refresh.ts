import type { RefreshTokenRecord, SessionRecord } from './session-record'
import { sessionState } from './session-record'

export type RefreshDecision =
  /** Spend the token and issue a successor. */
  | { kind: 'rotate' }
  /** Already rotated, within the grace window: hand back the identical successor. */
  | { kind: 'replay' }
  /** Already rotated, grace window over: theft signal, revoke the whole session. */
  | { kind: 'reuse' }
  /** Refuse without changing anything. */
  | { kind: 'reject'; reason: string }

/** Reason of the rejection for a session past its idle or absolute lifetime; metrics count it apart. */
export const SESSION_EXPIRED_REASON = 'session has expired'

export interface RefreshDecisionInput {
  session: SessionRecord
  token: RefreshTokenRecord
  /** client_id the caller presented; absent means the default client. */
  clientId: string
  now: Date
  graceSeconds: number
}

/**
 * What to do with a presented refresh token, given its locked session. Pure: data in, decision out.
 * Order matters: a dead session rejects before reuse is considered (nothing left to revoke),
 * and another client's token is refused without revoking (RFC 6749 §6: the refresh token is
 * bound to the client it was issued to; a wrong client learns nothing and changes nothing).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-security-topics#section-4.14.2
 */
export function decideRefresh(input: RefreshDecisionInput): RefreshDecision {
  const { session, token, now } = input
  const state = sessionState(session, now)
  if (state === 'revoked') return { kind: 'reject', reason: 'session is revoked' }
  if (state === 'expired') return { kind: 'reject', reason: SESSION_EXPIRED_REASON }
  if (!session.userEnabled) return { kind: 'reject', reason: 'user is disabled' }
  if (session.clientId !== input.clientId) return { kind: 'reject', reason: 'refresh token was issued to another client' }
  if (token.rotatedAt) {
    const sinceRotationMs = now.getTime() - token.rotatedAt.getTime()
    if (sinceRotationMs <= input.graceSeconds * 1000 && token.successorSealed) return { kind: 'replay' }
    return { kind: 'reuse' }
  }
  return { kind: 'rotate' }
}
