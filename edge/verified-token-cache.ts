import type { AccessTokenClaims } from '../shared/access-token-claims'

/** A token whose signature and immutable claims were already checked. */
export interface VerifiedToken {
  claims: AccessTokenClaims
  /** Key that signed it; the entry goes when that key leaves the JWKS. */
  kid: string
}

/**
 * Bounded in-isolate LRU of verified access tokens, keyed by the whole token string so a repeated
 * token costs a map lookup instead of a signature check. Only what cannot change is cached
 * (signature, issuer, type, claims); `exp` and revocation are checked by the caller on every
 * request, and an expired entry is dropped when seen.
 */
export class VerifiedTokenCache {
  // A Map iterates in insertion order; re-inserting on a hit makes the first entry the least recent.
  private readonly entries = new Map<string, VerifiedToken>()

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size
  }

  get(token: string): VerifiedToken | undefined {
    const entry = this.entries.get(token)
    if (entry) {
      this.entries.delete(token)
      this.entries.set(token, entry)
    }
    return entry
  }

  set(token: string, entry: VerifiedToken): void {
    if (this.maxEntries === 0) return
    this.entries.delete(token)
    this.entries.set(token, entry)
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next()
      if (oldest.done) break
      this.entries.delete(oldest.value)
    }
  }

  delete(token: string): void {
    this.entries.delete(token)
  }

  /** Drops every entry signed by a key that is no longer published (rotation or compromise). */
  retainKeys(kids: ReadonlySet<string>): void {
    for (const [token, entry] of this.entries) {
      if (!kids.has(entry.kid)) this.entries.delete(token)
    }
  }
}
