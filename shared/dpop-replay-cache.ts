import type { ReplayGuard } from './dpop-proof'

/**
 * An in-memory `ReplayGuard` with a bound on its size, for one edge isolate. What it guarantees:
 * a proof replayed to the same isolate within its window is refused. Other isolates and other
 * locations hold their own caches, so a proof replayed elsewhere within the proof window (seconds)
 * passes there; the proof is still bound to its method, URL, token and `iat`, which limits a
 * replay to the same request, soon. For strict once-only use, back the guard with one store per
 * key instead (a Durable Object addressed by `jkt`, or central's table).
 * When full of live entries it forgets the oldest tenth: the cache never grows past `maxEntries`, and
 * forgetting only weakens the guarantee for the oldest proofs, never refuses a fresh one.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export class DpopReplayCache implements ReplayGuard {
  /** key → expiry in epoch ms, in insertion order (a Map iterates in insertion order). */
  readonly #entries = new Map<string, number>()
  readonly #maxEntries: number
  readonly #now: () => number

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 50_000
    this.#now = options.now ?? Date.now
  }

  get size(): number {
    return this.#entries.size
  }

  seen(key: string, expiresAt: Date): boolean {
    const now = this.#now()
    const known = this.#entries.get(key)
    if (known !== undefined && known > now) return true
    if (known !== undefined) this.#entries.delete(key)
    if (this.#entries.size >= this.#maxEntries) this.#evict(now)
    this.#entries.set(key, expiresAt.getTime())
    return false
  }

  /**
   * Drops expired entries, then the oldest down to 90 % of the bound, so the next inserts need no
   * sweep (amortised constant time per proof even when every entry is live).
   */
  #evict(now: number): void {
    for (const [key, expiresAt] of this.#entries) {
      if (expiresAt <= now) this.#entries.delete(key)
    }
    const target = Math.floor(this.#maxEntries * 0.9)
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= target) break
      this.#entries.delete(key)
    }
  }
}
