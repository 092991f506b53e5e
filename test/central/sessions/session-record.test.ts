import { describe, expect, it } from 'vitest'
import { newSessionExpiry, sessionState, slidIdleExpiry, type SessionState } from '../../../central/sessions/session-record'
import { sessionSettingsFrom } from '../../../central/sessions/session-settings'
import { audiencesOrIssuer } from '../../../central/sessions/token-set'
import { loadConfig } from '../../../central/config'

const now = new Date('2030-01-01T00:00:00Z')
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000)

describe('sessionState', () => {
  const cases: [string, { revokedAt: Date | null; idleExpiresAt: Date; absoluteExpiresAt: Date }, SessionState][] = [
    ['active within both lifetimes', { revokedAt: null, idleExpiresAt: at(1), absoluteExpiresAt: at(2) }, 'active'],
    ['expired at the idle expiry', { revokedAt: null, idleExpiresAt: now, absoluteExpiresAt: at(2) }, 'expired'],
    ['expired at the absolute expiry', { revokedAt: null, idleExpiresAt: at(1), absoluteExpiresAt: now }, 'expired'],
    ['revoked, even while within its lifetimes', { revokedAt: at(-1), idleExpiresAt: at(1), absoluteExpiresAt: at(2) }, 'revoked'],
    ['revoked rather than expired', { revokedAt: at(-10), idleExpiresAt: at(-5), absoluteExpiresAt: at(-5) }, 'revoked'],
  ]
  it.each(cases)('%s', (_name, session, expected) => expect(sessionState(session, now)).toBe(expected))
})

describe('session lifetimes', () => {
  const settings = { idleTtlSeconds: 60, absoluteTtlSeconds: 600 }
  it('starts with the idle expiry inside the absolute one', () => {
    expect(newSessionExpiry(now, settings)).toEqual({ idleExpiresAt: at(60), absoluteExpiresAt: at(600) })
  })
  it('caps the idle expiry at the absolute one when the idle lifetime is longer', () => {
    expect(newSessionExpiry(now, { idleTtlSeconds: 900, absoluteTtlSeconds: 600 })).toEqual({ idleExpiresAt: at(600), absoluteExpiresAt: at(600) })
  })
  const slides: [string, Date, Date][] = [
    ['slides the idle expiry forward from the refresh', at(1000), at(60)],
    ['never slides past the absolute expiry', at(30), at(30)],
  ]
  it.each(slides)('%s', (_name, absoluteExpiresAt, expected) => expect(slidIdleExpiry(now, absoluteExpiresAt, settings)).toEqual(expected))
})

describe('sessionSettingsFrom', () => {
  it('takes lifetimes, grace and issuer from the configuration', () => {
    const config = loadConfig({ ISSUER: 'https://auth.example.test', REFRESH_IDLE_TTL_SECONDS: '60', REFRESH_ABSOLUTE_TTL_SECONDS: '600', REFRESH_GRACE_SECONDS: '0' })
    expect(sessionSettingsFrom(config)).toMatchObject({ idleTtlSeconds: 60, absoluteTtlSeconds: 600, graceSeconds: 0, issuer: 'https://auth.example.test', recordRefreshEvents: true })
  })

  it('derives the refresh-token chain key from the key-encryption secret, so every instance tags alike', () => {
    const secret = 'k'.repeat(32)
    const a = sessionSettingsFrom(loadConfig({ KEY_ENCRYPTION_SECRET: secret }))
    const b = sessionSettingsFrom(loadConfig({ KEY_ENCRYPTION_SECRET: secret, AUDIT_REFRESH_EVENTS: 'false' }))
    expect(a.chainKey.equals(b.chainKey)).toBe(true)
    expect(a.chainKey.equals(sessionSettingsFrom(loadConfig({ KEY_ENCRYPTION_SECRET: 'j'.repeat(32) })).chainKey)).toBe(false)
    expect(b.recordRefreshEvents).toBe(false)
  })
})

describe('audiencesOrIssuer', () => {
  it('keeps the granted audiences', () => expect(audiencesOrIssuer(['a'], 'https://iss')).toEqual(['a']))
  it('scopes a token without audience to central itself', () => expect(audiencesOrIssuer([], 'https://iss')).toEqual(['https://iss']))
})
