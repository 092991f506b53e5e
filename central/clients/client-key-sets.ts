import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey } from 'jose'
import type { ClientRecord } from './client-record'

export interface ClientKeySetSettings {
  /** A client's `jwks_uri` that does not answer within this is a failed authentication, not a hang. */
  timeoutMs: number
  /** How long a fetched key set is used before it is fetched again. */
  cacheMaxAgeMs: number
  /** At most one refetch per client this often (an unknown `kid` triggers one). */
  cooldownMs: number
  /** Key sets kept; the least recently used is dropped beyond it. */
  maxClients: number
}

export const DEFAULT_CLIENT_KEY_SET_SETTINGS: ClientKeySetSettings = {
  timeoutMs: 3_000,
  cacheMaxAgeMs: 10 * 60_000,
  cooldownMs: 30_000,
  maxClients: 1_000,
}

/**
 * Owns the key sets `private_key_jwt` assertions are verified against, one per client: inline
 * keys imported once, remote ones fetched with a timeout and cached (jose refetches on an unknown
 * `kid`, at most once per cooldown). A changed registration (new `updated_at`) gets a fresh set,
 * so a key removed by an admin stops working at once. One per process, passed in.
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
export class ClientKeySets {
  readonly #sets = new Map<string, JWTVerifyGetKey>()
  readonly #settings: ClientKeySetSettings

  constructor(settings: Partial<ClientKeySetSettings> = {}) {
    this.#settings = { ...DEFAULT_CLIENT_KEY_SET_SETTINGS, ...settings }
  }

  /** The key-lookup function for this client's assertions; undefined when it has no keys. */
  forClient(client: ClientRecord): JWTVerifyGetKey | undefined {
    const cacheKey = `${client.clientId}\n${client.updatedAt.getTime()}\n${client.jwksUri ?? 'inline'}`
    const cached = this.#sets.get(cacheKey)
    if (cached) {
      // Re-insert: Map order is the eviction order, so this keeps it least-recently-used first.
      this.#sets.delete(cacheKey)
      this.#sets.set(cacheKey, cached)
      return cached
    }
    let keySet: JWTVerifyGetKey
    if (client.jwks) keySet = createLocalJWKSet(client.jwks)
    else if (client.jwksUri) {
      keySet = createRemoteJWKSet(new URL(client.jwksUri), {
        timeoutDuration: this.#settings.timeoutMs,
        cacheMaxAge: this.#settings.cacheMaxAgeMs,
        cooldownDuration: this.#settings.cooldownMs,
      })
    } else return undefined
    // Older registrations of the same client are dead weight now; drop them before evicting others.
    for (const key of this.#sets.keys()) if (key.startsWith(`${client.clientId}\n`)) this.#sets.delete(key)
    for (const key of this.#sets.keys()) {
      if (this.#sets.size < this.#settings.maxClients) break
      this.#sets.delete(key)
    }
    this.#sets.set(cacheKey, keySet)
    return keySet
  }
}
