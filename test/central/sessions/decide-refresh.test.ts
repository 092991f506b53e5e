import { describe, expect, it } from 'vitest'
import { decideRefresh, SESSION_EXPIRED_REASON, successorSource, UNKNOWN_TOKEN_REASON, type RefreshDecision, type RefreshDecisionInput } from '../../../central/sessions/decide-refresh'
import type { PresentedRefreshToken } from '../../../central/sessions/refresh-token'
import type { RefreshChain, SessionRecord } from '../../../central/sessions/session-record'

const now = new Date('2030-01-01T00:00:00Z')
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000)
const hash = (name: string) => Buffer.from(name.padEnd(32, '.'))
const sid = '6f1c1d3e-8a3b-4c5d-9e6f-0a1b2c3d4e5f'

/** A session whose chain is at generation 5: current token `t5`, previous `t4` rotated `rotatedSecondsAgo` ago. */
const sessionAt = (rotatedSecondsAgo: number, chain: Partial<RefreshChain> = {}): SessionRecord => ({
  id: sid, userId: 'u', clientId: 'web', audiences: ['a', 'b'], scopes: ['read', 'write'], roles: [],
  createdAt: at(-100), lastUsedAt: at(-rotatedSecondsAgo), idleExpiresAt: at(1), absoluteExpiresAt: at(5),
  revokedAt: null, userEnabled: true, userGrant: { audiences: ['a', 'b'], scopes: ['read', 'write'], roles: [] },
  chain: { tokenHash: hash('t5'), generation: 5, previousTokenHash: hash('t4'), successorSalt: Buffer.from('salt'), successorSealed: null, rotatedIp: null, rotatedUserAgent: null, ...chain },
  dpopJkt: null,
})
const session = sessionAt(3)
const token = (name: string, generation: number, genuine = true): PresentedRefreshToken => ({ kind: 'chained', sessionId: sid, generation, tokenHash: hash(name), genuine })
const current = token('t5', 5)
const previous = token('t4', 4)
const older = token('t2', 2)
const reject = (reason: string): RefreshDecision => ({ kind: 'reject', reason })
const rotate: RefreshDecision = { kind: 'rotate', accessTokenJkt: undefined }
const replay: RefreshDecision = { kind: 'replay', accessTokenJkt: undefined }
const decide = (input: Partial<RefreshDecisionInput>) => decideRefresh({ session, presented: current, clientId: 'web', now, graceSeconds: 10, ...input })

describe('decideRefresh', () => {
  const cases: [string, Partial<RefreshDecisionInput>, RefreshDecision][] = [
    ['rotates the current token of a live session', {}, rotate],
    ['replays the previous token within the grace window', { presented: previous }, replay],
    ['replays at the end of the grace window (inclusive)', { session: sessionAt(10), presented: previous }, replay],
    ['calls it reuse one second after the grace window', { session: sessionAt(11), presented: previous }, { kind: 'reuse' }],
    ['replays within the window from a successor the earlier release sealed', { session: sessionAt(3, { successorSealed: Buffer.from('x') }), presented: previous }, replay],
    ['calls it reuse within the window on a migrated row that has no successor to give back', { session: sessionAt(3, { generation: 0, successorSalt: null }), presented: { kind: 'legacy', tokenHash: hash('t4') } }, { kind: 'reuse' }],
    ['calls a genuine earlier token reuse, even within the grace window', { presented: older }, { kind: 'reuse' }],
    ['rejects an earlier position whose tag does not verify, without calling it reuse', { presented: token('forged', 2, false) }, reject(UNKNOWN_TOKEN_REASON)],
    ['rejects a genuine token naming a later position than the chain has reached', { presented: token('t9', 9) }, reject(UNKNOWN_TOKEN_REASON)],
    ['rejects a wrong token at the current position', { presented: token('other', 5) }, reject(UNKNOWN_TOKEN_REASON)],
    ['calls an earlier token of the previous format (found by its hash) reuse', { presented: { kind: 'legacy', tokenHash: hash('old') } }, { kind: 'reuse' }],
    ['rejects a revoked session before considering reuse', { session: { ...sessionAt(60), revokedAt: now }, presented: previous }, reject('session is revoked')],
    ['rejects at the idle expiry', { session: { ...session, idleExpiresAt: now } }, reject(SESSION_EXPIRED_REASON)],
    ['rejects at the absolute expiry', { session: { ...session, absoluteExpiresAt: now } }, reject(SESSION_EXPIRED_REASON)],
    ['rejects an expired session before considering reuse', { session: { ...sessionAt(60), idleExpiresAt: at(-1) }, presented: previous }, reject(SESSION_EXPIRED_REASON)],
    ['rejects a disabled user', { session: { ...session, userEnabled: false } }, reject('user is disabled')],
    ['rejects a disabled user before considering reuse', { session: { ...sessionAt(60), userEnabled: false }, presented: previous }, reject('user is disabled')],
    ['rejects another client', { clientId: 'mobile' }, reject('refresh token was issued to another client')],
    ['rejects another client without calling it reuse', { session: sessionAt(60), presented: previous, clientId: 'mobile' }, reject('refresh token was issued to another client')],
    ['prefers revoked over expired', { session: { ...session, revokedAt: now, absoluteExpiresAt: at(-1) } }, reject('session is revoked')],
  ]
  it.each(cases)('%s', (_name, input, expected) => {
    expect(decide(input)).toEqual(expected)
  })

  it('with no grace window, only the same instant replays', () => {
    expect(decide({ session: sessionAt(0), presented: previous, graceSeconds: 0 })).toEqual(replay)
    expect(decide({ session: sessionAt(1), presented: previous, graceSeconds: 0 })).toEqual({ kind: 'reuse' })
  })
})

describe('decideRefresh with a DPoP-bound chain', () => {
  const bound = { ...sessionAt(60), dpopJkt: 'key-a' }
  const cases: [string, Partial<RefreshDecisionInput>, RefreshDecision][] = [
    ['rotates with a proof by the chain key, binding the access token to it', { session: bound, dpopJkt: 'key-a' }, { kind: 'rotate', accessTokenJkt: 'key-a' }],
    ['refuses the current token without a proof', { session: bound }, reject('refresh token is bound to a DPoP key; send a DPoP proof')],
    ['refuses the current token with a proof by another key', { session: bound, dpopJkt: 'key-b' }, reject('DPoP proof is signed by another key than the refresh token is bound to')],
    ['refuses an earlier token without a proof instead of calling it reuse', { session: bound, presented: previous }, reject('refresh token is bound to a DPoP key; send a DPoP proof')],
    ['refuses an earlier token with another key instead of calling it reuse', { session: bound, presented: older, dpopJkt: 'key-b' }, reject('DPoP proof is signed by another key than the refresh token is bound to')],
    ['calls an earlier token with the chain key reuse', { session: bound, presented: older, dpopJkt: 'key-a' }, { kind: 'reuse' }],
    ['binds the access token of an unbound chain to the key of a proof sent along', { dpopJkt: 'key-c' }, { kind: 'rotate', accessTokenJkt: 'key-c' }],
  ]
  it.each(cases)('%s', (_name, input, expected) => {
    expect(decide(input)).toEqual(expected)
  })
})

describe('successorSource', () => {
  const chain = sessionAt(3).chain
  it.each([
    ['derives it with the salt of the rotation', chain, 'derived'],
    ['opens the sealed copy on a row the earlier release rotated last', { ...chain, successorSalt: null, successorSealed: Buffer.from('x') }, 'sealed'],
    ['opens the sealed copy on a migrated row (generation 0) that has one', { ...chain, generation: 0, successorSalt: null, successorSealed: Buffer.from('x') }, 'sealed'],
    ['has none on a migrated row without either', { ...chain, generation: 0, successorSalt: null }, undefined],
  ] as const)('%s', (_name, input, expected) => {
    expect(successorSource(input)).toBe(expected)
  })
})
