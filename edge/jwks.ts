import { importJWK, type CryptoKey as WebCryptoKey } from 'jose'
import { z } from 'zod'
import { ServiceUnavailable } from '../shared/errors'

/** A public key from the JWKS, imported once and reused for every token it signed. */
export interface VerificationKey {
  kid: string
  alg: 'ES256' | 'EdDSA'
  /** jose's name for the Web Crypto key type, the same in workerd and in Node (tests). */
  key: WebCryptoKey
  /** The JWK as published; a kid whose JWK changes is imported again. */
  jwkJson: string
}

export type JwksSource = { kind: 'remote'; url: string } | { kind: 'static'; keys: Record<string, unknown>[] }

export interface JwksCacheOptions {
  /** Minimum time between two fetches caused by unknown `kid`s or staleness. */
  refetchCooldownMs: number
  /** After this long the key set is refreshed in the background (stale-while-revalidate). */
  maxAgeMs: number
  /** A JWKS answer slower than this counts as a failure; the last good keys stay. */
  fetchTimeoutMs: number
  /**
   * Called whenever the key set changes, with the kids still published with the same key. A kid
   * that left the set, or now names other key material, is missing: whatever was verified with its
   * old key must not be trusted any longer.
   */
  onKeySetChanged?: (unchangedKids: ReadonlySet<string>) => void
  fetcher?: typeof fetch
}

const JwkSetDocumentSchema = z.object({ keys: z.array(z.unknown()) })

/** RFC 7517 §4 public signing keys the edge can use: P-256 (ES256) or Ed25519 (EdDSA). */
const PublicJwkSchema = z.discriminatedUnion('kty', [
  z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string(), kid: z.string().min(1), alg: z.literal('ES256').optional(), use: z.literal('sig').optional() }),
  z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string().min(1), alg: z.literal('EdDSA').optional(), use: z.literal('sig').optional() }),
])

/**
 * The isolate's copy of central's signing keys (RFC 7517 JWKS). Fetched once and kept; an unknown
 * `kid` (a rotation) triggers at most one refetch per cooldown, so a flood of tokens with made-up
 * kids cannot turn into a flood of JWKS requests. A failed, slow or malformed refetch never
 * replaces the last good keys: while central is down, tokens it already signed keep verifying.
 * With a static JWKS nothing is ever fetched.
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 */
export class JwksCache {
  private keys = new Map<string, VerificationKey>()
  private loaded = false
  private loadedAtMs = Number.NEGATIVE_INFINITY
  private lastAttemptAtMs = Number.NEGATIVE_INFINITY
  private inflight: Promise<void> | undefined
  private readonly fetcher: typeof fetch

  constructor(
    private readonly source: JwksSource,
    private readonly options: JwksCacheOptions,
  ) {
    // Unbound `fetch` throws "Illegal invocation" on workerd.
    this.fetcher = options.fetcher ?? ((input, init) => fetch(input, init))
  }

  /**
   * The key for `kid`, loading the JWKS on first use and refetching once (cooldown permitting)
   * when `kid` is unknown. `undefined`: no such key. Throws `ServiceUnavailable` only when no key
   * set has ever been loaded.
   */
  async findKey(kid: string, nowMs: number): Promise<VerificationKey | undefined> {
    if (!this.loaded) {
      if (this.source.kind === 'static' || nowMs - this.lastAttemptAtMs >= this.options.refetchCooldownMs) {
        await this.refresh(nowMs)
      }
      if (!this.loaded) throw new ServiceUnavailable('signing keys are not available yet')
      return this.keys.get(kid)
    }
    const key = this.keys.get(kid)
    if (key || this.source.kind === 'static') return key
    if (nowMs - this.lastAttemptAtMs < this.options.refetchCooldownMs) return undefined
    await this.refresh(nowMs)
    return this.keys.get(kid)
  }

  /** The key for `kid` when the key set is loaded and has it: the request path's no-await fast path. */
  knownKey(kid: string): VerificationKey | undefined {
    return this.keys.get(kid)
  }

  /** Background refresh once the key set is older than `maxAgeMs`; for `ctx.waitUntil`. */
  refreshIfStale(nowMs: number): Promise<void> | undefined {
    if (this.source.kind === 'static' || !this.loaded) return undefined
    if (nowMs - this.loadedAtMs < this.options.maxAgeMs) return undefined
    if (nowMs - this.lastAttemptAtMs < this.options.refetchCooldownMs) return undefined
    return this.refresh(nowMs)
  }

  /**
   * Refetch now, past the unknown-kid cooldown: the revocation feed says the published key set
   * changed (a rotation, or a key taken out of the JWKS). Only that signal may bypass the
   * cooldown, which exists against made-up kids. A fetch already in flight may predate the
   * change, so this one starts after it.
   */
  refreshForKeySetChange(nowMs: number): Promise<void> | undefined {
    if (this.source.kind === 'static' || !this.loaded) return undefined
    return (this.inflight ?? Promise.resolve()).then(() => this.refresh(nowMs))
  }

  /** Kids currently trusted (for tests and logs). */
  knownKeyIds(): string[] {
    return [...this.keys.keys()]
  }

  private refresh(nowMs: number): Promise<void> {
    // Concurrent requests wanting a refetch share one fetch.
    this.inflight ??= this.load(nowMs).finally(() => {
      this.inflight = undefined
    })
    return this.inflight
  }

  private async load(nowMs: number): Promise<void> {
    this.lastAttemptAtMs = nowMs
    let jwks: unknown[]
    try {
      jwks = this.source.kind === 'static' ? this.source.keys : await this.fetchKeys(this.source.url)
    } catch (error) {
      console.warn(JSON.stringify({ msg: 'jwks fetch failed; keeping last good keys', reason: describe(error) }))
      return
    }
    const next = new Map<string, VerificationKey>()
    for (const jwk of jwks) {
      const imported = await this.importKey(jwk)
      if (imported) next.set(imported.kid, imported)
    }
    if (next.size === 0) {
      console.warn(JSON.stringify({ msg: 'jwks has no usable signing keys; keeping last good keys' }))
      return
    }
    // `importKey` returns the very object already held when a kid's JWK is unchanged. Passing every
    // kid of the new set would keep tokens signed by a kid's old key after it was replaced in place.
    const unchangedKids = new Set<string>()
    for (const [kid, key] of next) if (this.keys.get(kid) === key) unchangedKids.add(kid)
    const changed = unchangedKids.size !== this.keys.size || unchangedKids.size !== next.size
    this.keys = next
    this.loaded = true
    this.loadedAtMs = nowMs
    if (changed) this.options.onKeySetChanged?.(unchangedKids)
  }

  private async fetchKeys(url: string): Promise<unknown[]> {
    const response = await this.fetcher(url, {
      headers: { Accept: 'application/jwk-set+json, application/json' },
      signal: AbortSignal.timeout(this.options.fetchTimeoutMs),
    })
    if (!response.ok) {
      await response.body?.cancel()
      throw new Error(`JWKS answered HTTP ${response.status}`)
    }
    return JwkSetDocumentSchema.parse(await response.json()).keys
  }

  /** Public keys only: a JWK carrying private material (`d`) or of another type is ignored. */
  private async importKey(candidate: unknown): Promise<VerificationKey | undefined> {
    if (candidate && typeof candidate === 'object' && 'd' in candidate) return undefined
    const parsed = PublicJwkSchema.safeParse(candidate)
    if (!parsed.success) return undefined
    const jwk = parsed.data
    const jwkJson = JSON.stringify(jwk)
    const existing = this.keys.get(jwk.kid)
    if (existing && existing.jwkJson === jwkJson) return existing
    const alg = jwk.kty === 'EC' ? 'ES256' : 'EdDSA'
    try {
      const key = await importJWK({ ...jwk, ext: false }, alg)
      if (!(key instanceof CryptoKey)) return undefined
      return { kid: jwk.kid, alg, key, jwkJson }
    } catch {
      return undefined
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
