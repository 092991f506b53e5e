import { describe, expect, it } from 'vitest'
import { decideRefresh } from '../../../central/sessions/decide-refresh'
import { narrowGrant } from '../../../central/sessions/narrow-grant'
import type { RefreshTokenRecord, SessionRecord } from '../../../central/sessions/session-record'
import { InvalidScope, InvalidTarget } from '../../../shared/errors'

const now = new Date('2030-01-01T00:00:00Z')
const session: SessionRecord = {
  id: 's', userId: 'u', clientId: 'web', audiences: ['a', 'b'], scopes: ['read', 'write'], roles: [],
  createdAt: new Date(+now - 1000), lastUsedAt: now, idleExpiresAt: new Date(+now + 1000), absoluteExpiresAt: new Date(+now + 5000),
  revokedAt: null, userEnabled: true, userGrant: { audiences: ['a', 'b'], scopes: ['read', 'write'], roles: [] },
}
const fresh: RefreshTokenRecord = { id: '1', sessionId: 's', rotatedAt: null, successorSealed: null, rotatedIp: null, rotatedUserAgent: null }
const rotated = (secondsAgo: number): RefreshTokenRecord => ({ ...fresh, rotatedAt: new Date(+now - secondsAgo * 1000), successorSealed: Buffer.from('x') })
const decide = (s: Partial<SessionRecord>, token: RefreshTokenRecord, clientId = 'web') =>
  decideRefresh({ session: { ...session, ...s }, token, clientId, now, graceSeconds: 10 })

describe('decideRefresh', () => {
  it('rotates a fresh token of a live session', () => expect(decide({}, fresh)).toEqual({ kind: 'rotate' }))
  it('replays within the grace window, inclusive', () => expect(decide({}, rotated(10))).toEqual({ kind: 'replay' }))
  it('calls it reuse after the grace window', () => expect(decide({}, rotated(11))).toEqual({ kind: 'reuse' }))
  it('rejects a revoked session before considering reuse', () => expect(decide({ revokedAt: now }, rotated(60)).kind).toBe('reject'))
  it('rejects at the idle expiry', () => expect(decide({ idleExpiresAt: now }, fresh).kind).toBe('reject'))
  it('rejects at the absolute expiry', () => expect(decide({ absoluteExpiresAt: now }, fresh).kind).toBe('reject'))
  it('rejects a disabled user', () => expect(decide({ userEnabled: false }, fresh).kind).toBe('reject'))
  it('rejects another client without calling it reuse', () => expect(decide({}, rotated(60), 'mobile').kind).toBe('reject'))
})

describe('narrowGrant', () => {
  const grant = { audiences: ['a', 'b'], scopes: ['read', 'write'] }
  it('keeps the full grant when nothing is asked', () => expect(narrowGrant(grant, {})).toEqual(grant))
  it('narrows to one resource', () => expect(narrowGrant(grant, { resource: 'b' }).audiences).toEqual(['b']))
  it('refuses a resource outside the grant', () => expect(() => narrowGrant(grant, { resource: 'c' })).toThrow(InvalidTarget))
  it('narrows scopes', () => expect(narrowGrant(grant, { scopes: ['read'] }).scopes).toEqual(['read']))
  it('refuses wider scopes', () => expect(() => narrowGrant(grant, { scopes: ['read', 'admin'] })).toThrow(InvalidScope))
})
