import type { VerifiedToken } from './verified-token'

/**
 * Bounded in-isolate cache of verified access tokens, keyed by the whole token string so a repeated
 * token costs a map lookup instead of a signature check. Only what cannot change is cached
 * (signature, issuer, type, claims and what is derived from them); `exp` and revocation are checked
 * by the caller on every request, and an expired entry is dropped when seen.
 *
 * Two generations instead of a strict LRU: new tokens go into `recent`; when it is full it becomes
 * `previous` and the old `previous` is dropped whole. A hit in `recent` is one lookup with no
 * reordering, and a hit in `previous` moves the token back into `recent`, so a token in use stays
 * while one not seen for a generation goes. Every operation is O(1): a strict LRU in a `Map`
 * re-inserts on every hit, and finding its oldest entry walks past the slots of deleted ones, up to
 * thousands per eviction when every request brings a new token. At most `maxEntries` tokens are held.
 */
export class VerifiedTokenCache {
  private recent = new Map<string, VerifiedToken>()
  private previous = new Map<string, VerifiedToken>()
  private readonly generationSize: number

  constructor(private readonly maxEntries: number) {
    // Two generations of half the bound each; a bound of 1 keeps one generation of one token.
    this.generationSize = maxEntries === 1 ? 1 : Math.floor(maxEntries / 2)
  }

  get size(): number {
    return this.recent.size + this.previous.size
  }

  get(token: string): VerifiedToken | undefined {
    const entry = this.recent.get(token)
    if (entry !== undefined) return entry
    const older = this.previous.get(token)
    if (older !== undefined) {
      this.previous.delete(token)
      this.insert(token, older)
    }
    return older
  }

  set(token: string, entry: VerifiedToken): void {
    if (this.generationSize === 0) return
    this.previous.delete(token)
    this.insert(token, entry)
  }

  delete(token: string): void {
    this.recent.delete(token)
    this.previous.delete(token)
  }

  /**
   * Keeps only entries whose kid is in `kids`: the JWKS cache passes the kids still published with
   * the same key, so a key withdrawn (rotation or compromise) or replaced under its kid takes the
   * tokens it verified with it.
   */
  retainKeys(kids: ReadonlySet<string>): void {
    for (const generation of [this.recent, this.previous]) {
      for (const [token, entry] of generation) {
        if (!kids.has(entry.kid)) generation.delete(token)
      }
    }
  }

  private insert(token: string, entry: VerifiedToken): void {
    if (!this.recent.has(token) && this.recent.size >= this.generationSize) {
      this.previous = this.maxEntries === 1 ? new Map() : this.recent
      this.recent = new Map()
    }
    this.recent.set(token, entry)
  }
}
