import { describe, expect, it } from 'vitest'
import { VerifiedTokenCache, type VerifiedToken } from '../../edge/verified-token-cache'
import type { AccessTokenClaims } from '../../shared/access-token-claims'

const entry = (kid = 'key-1'): VerifiedToken => ({ kid, claims: { sub: 'user-1', sid: 'sid-1', exp: 2_000_000_000 } as AccessTokenClaims })

describe('VerifiedTokenCache (bounded, issue 4)', () => {
  it('never holds more than its bound, evicting the least recently used token', () => {
    const cache = new VerifiedTokenCache(3)
    for (const token of ['a', 'b', 'c']) cache.set(token, entry())
    expect(cache.get('a')).toBeDefined() // a is now the most recent; b the least
    cache.set('d', entry())
    expect(cache.size).toBe(3)
    expect(cache.get('b')).toBeUndefined()
    for (const token of ['a', 'c', 'd']) expect(cache.get(token)).toBeDefined()
    for (let i = 0; i < 100; i++) cache.set(`token-${i}`, entry())
    expect(cache.size).toBe(3)
  })

  it('caches nothing when its size is 0 (VERIFIED_TOKEN_CACHE_SIZE=0 turns it off)', () => {
    const cache = new VerifiedTokenCache(0)
    cache.set('a', entry())
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('keeps only tokens whose key is still published', () => {
    const cache = new VerifiedTokenCache(10)
    cache.set('old', entry('key-1'))
    cache.set('new', entry('key-2'))
    cache.retainKeys(new Set(['key-2']))
    expect(cache.get('old')).toBeUndefined()
    expect(cache.get('new')).toBeDefined()
  })
})
