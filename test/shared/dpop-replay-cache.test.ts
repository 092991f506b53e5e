import { describe, expect, it } from 'vitest'
import { DpopReplayCache } from '../../shared/dpop-replay-cache'

describe('DpopReplayCache', () => {
  it('reports a key as seen until it expires, then accepts it as new', () => {
    let now = 1_000_000
    const cache = new DpopReplayCache({ now: () => now })
    const expiresAt = new Date(now + 60_000)
    expect(cache.seen('jkt:a', expiresAt)).toBe(false)
    expect(cache.seen('jkt:a', expiresAt)).toBe(true)
    now += 60_001
    expect(cache.seen('jkt:a', new Date(now + 60_000))).toBe(false)
  })

  it('never holds more than its bound, dropping expired entries first', () => {
    let now = 0
    const cache = new DpopReplayCache({ maxEntries: 100, now: () => now })
    for (let i = 0; i < 50; i++) cache.seen(`short:${i}`, new Date(10))
    for (let i = 0; i < 50; i++) cache.seen(`long:${i}`, new Date(1_000))
    now = 20
    cache.seen('next', new Date(1_000))
    expect(cache.size).toBe(51)
    expect(cache.seen('long:0', new Date(1_000))).toBe(true)
  })

  it('forgets the oldest live entries when full of them, staying bounded', () => {
    const cache = new DpopReplayCache({ maxEntries: 100, now: () => 0 })
    for (let i = 0; i < 1_000; i++) cache.seen(`k:${i}`, new Date(1_000))
    expect(cache.size).toBeLessThanOrEqual(100)
    expect(cache.seen('k:999', new Date(1_000))).toBe(true)
  })
})
