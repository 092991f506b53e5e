import { describe, expect, it } from 'vitest'
import { toVerifiedToken, type VerifiedToken } from '../../edge/verified-token'
import { VerifiedTokenCache } from '../../edge/verified-token-cache'
import type { AccessTokenClaims } from '../../shared/access-token-claims'

const claims: AccessTokenClaims = {
  iss: 'https://auth.example.com',
  sub: 'user-1',
  sid: 'sid-1',
  aud: ['api', 'billing'],
  exp: 2_000_000_000,
  iat: 1_900_000_000,
  jti: 'jti-1',
  client_id: 'web',
  scope: 'orders:read  profile',
}
const entry = (kid = 'key-1'): VerifiedToken => toVerifiedToken(claims, kid)

describe('VerifiedTokenCache (bounded)', () => {
  it('never holds more than its bound, for any bound', () => {
    for (const bound of [1, 2, 3, 10, 101]) {
      const cache = new VerifiedTokenCache(bound)
      for (let i = 0; i < 1000; i++) {
        cache.set(`token-${i}`, entry())
        if (i % 3 === 0) cache.get(`token-${i - 2}`)
        expect(cache.size).toBeLessThanOrEqual(bound)
      }
      expect(cache.get('token-999')).toBeDefined() // the newest is always kept
    }
  })

  it('keeps a token that is in use while tokens not seen again are evicted', () => {
    const cache = new VerifiedTokenCache(10)
    cache.set('busy', entry())
    for (let i = 0; i < 200; i++) {
      cache.set(`once-${i}`, entry())
      expect(cache.get('busy')).toBeDefined()
    }
    expect(cache.get('once-0')).toBeUndefined()
    expect(cache.get('once-199')).toBeDefined()
  })

  it('evicts a token not seen for more than its bound of newer tokens', () => {
    const cache = new VerifiedTokenCache(4)
    cache.set('idle', entry())
    for (let i = 0; i < 4; i++) cache.set(`newer-${i}`, entry())
    expect(cache.get('idle')).toBeUndefined()
  })

  it('caches nothing when its size is 0 (VERIFIED_TOKEN_CACHE_SIZE=0 turns it off)', () => {
    const cache = new VerifiedTokenCache(0)
    cache.set('a', entry())
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('forgets a deleted token in either generation', () => {
    const cache = new VerifiedTokenCache(2)
    cache.set('old', entry())
    cache.set('new', entry()) // 'old' is now in the previous generation
    cache.delete('old')
    cache.delete('new')
    expect(cache.get('old')).toBeUndefined()
    expect(cache.get('new')).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('keeps only tokens whose key is still published', () => {
    const cache = new VerifiedTokenCache(4)
    cache.set('old', entry('key-1'))
    cache.set('old-2', entry('key-1'))
    cache.set('new', entry('key-2')) // the first two are now the previous generation
    cache.retainKeys(new Set(['key-2']))
    expect(cache.get('old')).toBeUndefined()
    expect(cache.get('old-2')).toBeUndefined()
    expect(cache.get('new')).toBeDefined()
  })
})

describe('toVerifiedToken', () => {
  it('derives the scope set, audiences and identity header values once from the claims', () => {
    const token = toVerifiedToken({ ...claims, roles: ['admin', 'ops'] }, 'key-1')
    expect([...token.scopes]).toEqual(['orders:read', 'profile'])
    expect(token.audiences).toEqual(['api', 'billing'])
    expect(token.identity).toEqual({
      sub: 'user-1',
      sid: 'sid-1',
      scope: 'orders:read profile',
      aud: 'api billing',
      clientId: 'web',
      jti: 'jti-1',
      roles: 'admin ops',
      clientType: 'user',
      senderConstrained: undefined,
    })
    expect(toVerifiedToken({ ...claims, aud: 'api', roles: [] }, 'key-1').identity).toMatchObject({ aud: 'api', roles: undefined })
  })
})
