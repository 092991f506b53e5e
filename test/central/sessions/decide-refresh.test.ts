import { describe, expect, it } from 'vitest'
import { decideRefresh, SESSION_EXPIRED_REASON, type RefreshDecision } from '../../../central/sessions/decide-refresh'
import type { RefreshTokenRecord, SessionRecord } from '../../../central/sessions/session-record'

const now = new Date('2030-01-01T00:00:00Z')
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000)
const session: SessionRecord = {
  id: 's', userId: 'u', clientId: 'web', audiences: ['a', 'b'], scopes: ['read', 'write'], roles: [],
  createdAt: at(-1), lastUsedAt: now, idleExpiresAt: at(1), absoluteExpiresAt: at(5),
  revokedAt: null, userEnabled: true, userGrant: { audiences: ['a', 'b'], scopes: ['read', 'write'], roles: [] },
}
const fresh: RefreshTokenRecord = { id: '1', sessionId: 's', rotatedAt: null, successorSealed: null, rotatedIp: null, rotatedUserAgent: null }
const rotated = (secondsAgo: number, sealed = true): RefreshTokenRecord => ({
  ...fresh,
  rotatedAt: at(-secondsAgo),
  successorSealed: sealed ? Buffer.from('x') : null,
})
const reject = (reason: string): RefreshDecision => ({ kind: 'reject', reason })

describe('decideRefresh', () => {
  const cases: [string, Partial<SessionRecord>, RefreshTokenRecord, string, RefreshDecision][] = [
    ['rotates a fresh token of a live session', {}, fresh, 'web', { kind: 'rotate' }],
    ['replays within the grace window', {}, rotated(3), 'web', { kind: 'replay' }],
    ['replays at the end of the grace window (inclusive)', {}, rotated(10), 'web', { kind: 'replay' }],
    ['calls it reuse one second after the grace window', {}, rotated(11), 'web', { kind: 'reuse' }],
    ['calls it reuse within the window when no successor was sealed', {}, rotated(3, false), 'web', { kind: 'reuse' }],
    ['rejects a revoked session before considering reuse', { revokedAt: now }, rotated(60), 'web', reject('session is revoked')],
    ['rejects at the idle expiry', { idleExpiresAt: now }, fresh, 'web', reject(SESSION_EXPIRED_REASON)],
    ['rejects at the absolute expiry', { absoluteExpiresAt: now }, fresh, 'web', reject(SESSION_EXPIRED_REASON)],
    ['rejects an expired session before considering reuse', { idleExpiresAt: at(-1) }, rotated(60), 'web', reject(SESSION_EXPIRED_REASON)],
    ['rejects a disabled user', { userEnabled: false }, fresh, 'web', reject('user is disabled')],
    ['rejects a disabled user before considering reuse', { userEnabled: false }, rotated(60), 'web', reject('user is disabled')],
    ['rejects another client', {}, fresh, 'mobile', reject('refresh token was issued to another client')],
    ['rejects another client without calling it reuse', {}, rotated(60), 'mobile', reject('refresh token was issued to another client')],
    ['prefers revoked over expired', { revokedAt: now, absoluteExpiresAt: at(-1) }, fresh, 'web', reject('session is revoked')],
  ]
  it.each(cases)('%s', (_name, change, token, clientId, expected) => {
    expect(decideRefresh({ session: { ...session, ...change }, token, clientId, now, graceSeconds: 10 })).toEqual(expected)
  })

  it('with no grace window, any second presentation is reuse', () => {
    expect(decideRefresh({ session, token: rotated(0), clientId: 'web', now, graceSeconds: 0 })).toEqual({ kind: 'replay' })
    expect(decideRefresh({ session, token: rotated(1), clientId: 'web', now, graceSeconds: 0 })).toEqual({ kind: 'reuse' })
  })
})
