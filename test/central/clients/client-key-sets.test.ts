import { describe, expect, it } from 'vitest'
import { ClientKeySets } from '../../../central/clients/client-key-sets'
import type { ClientRecord } from '../../../central/clients/client-record'

/** The fields `forClient` reads; the rest of a registration plays no part in the cache. */
function registration(clientId: string, updatedAt: string): ClientRecord {
  return { clientId, updatedAt: new Date(updatedAt), jwks: { keys: [] }, jwksUri: null } as unknown as ClientRecord
}

describe('ClientKeySets', () => {
  it('keeps one key set per registration and hands the same one back', () => {
    const sets = new ClientKeySets()
    const a = registration('a', '2030-01-01T00:00:00Z')
    expect(sets.forClient(a)).toBe(sets.forClient(a))
    expect(sets.forClient(registration('a', '2030-01-01T00:01:00Z'))).not.toBe(sets.forClient(a))
  })

  it('replaces a changed client\'s key set without evicting another client\'s when full', () => {
    const sets = new ClientKeySets({ maxClients: 2 })
    const other = sets.forClient(registration('b', '2030-01-01T00:00:00Z'))
    sets.forClient(registration('a', '2030-01-01T00:00:00Z'))
    sets.forClient(registration('a', '2030-01-01T00:01:00Z'))
    expect(sets.forClient(registration('b', '2030-01-01T00:00:00Z'))).toBe(other)
  })

  it('evicts the least recently used client beyond maxClients', () => {
    const sets = new ClientKeySets({ maxClients: 2 })
    const a = sets.forClient(registration('a', '2030-01-01T00:00:00Z'))
    const b = sets.forClient(registration('b', '2030-01-01T00:00:00Z'))
    sets.forClient(registration('a', '2030-01-01T00:00:00Z'))
    sets.forClient(registration('c', '2030-01-01T00:00:00Z'))
    expect(sets.forClient(registration('a', '2030-01-01T00:00:00Z'))).toBe(a)
    expect(sets.forClient(registration('b', '2030-01-01T00:00:00Z'))).not.toBe(b)
  })
})
