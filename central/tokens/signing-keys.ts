import { createPrivateKey, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, type JWK } from 'jose'
import { recordAuditEvent } from '../audit/store'
import { LOCAL_KEY_ENCRYPTION_SECRET, type Config } from '../config'
import type { Queryable } from '../db/pool'
import type { Sql } from 'postgres'
import { Conflict } from '../../shared/errors'
import { deriveKey, open, seal } from './seal'
import { insertSigningKey, lockSigningKeys, scheduleKeyRetirement, selectSigningKeys, type SigningKeyRow } from './store'

export const SIGNING_ALGORITHM = 'ES256'

export type SigningKeyState = 'next' | 'active' | 'retired'

/** What ops see about a key (never the private part). */
export interface SigningKeyView {
  kid: string
  alg: string
  state: SigningKeyState
  /** False once `unpublishAt` has passed: the key is gone from the JWKS. */
  published: boolean
  createdAt: Date
  activatesAt: Date
  retiredAt: Date | null
  unpublishAt: Date | null
}

/**
 * A key's state follows from its timestamps alone, so every instance agrees without a job
 * promoting keys: `next` (published, not yet signing) until `activatesAt`, then `active`
 * until `retiredAt`, then `retired` (still published until `unpublishAt`).
 */
export function signingKeyState(key: Pick<SigningKeyRow, 'activatesAt' | 'retiredAt'>, now: Date): SigningKeyState {
  // Retirement is checked first: an emergency rotation withdraws a scheduled key before it
  // ever signs (retiredAt < activatesAt), and such a key must never become active.
  if (key.retiredAt && key.retiredAt <= now) return 'retired'
  if (key.activatesAt > now) return 'next'
  return 'active'
}

function isPublished(key: Pick<SigningKeyRow, 'unpublishAt'>, now: Date): boolean {
  return !key.unpublishAt || key.unpublishAt > now
}

/** The key that signs at `now`: the most recently activated one not yet retired. */
export function pickSigningKey<K extends Pick<SigningKeyRow, 'activatesAt' | 'retiredAt'>>(keys: K[], now: Date): K | undefined {
  return keys
    .filter((k) => signingKeyState(k, now) === 'active')
    .sort((a, b) => b.activatesAt.getTime() - a.activatesAt.getTime())[0]
}

/** Seconds a token signed just before retirement can still be accepted somewhere: TTL + edge clock skew. */
function retiredKeyOverlapSeconds(config: Config): number {
  return config.ACCESS_TOKEN_TTL_SECONDS + config.CLOCK_TOLERANCE_SECONDS
}

/**
 * Called once at start: creates the first ES256 key (active at once) when no key signs now.
 * Keys scheduled by `rotateSigningKey` become active by their timestamps, with no promotion
 * step (see `signingKeyState`). An advisory lock makes two instances starting together
 * create one key, not two.
 * @see https://www.rfc-editor.org/rfc/rfc7517
 */
export async function ensureSigningKeys(sql: Sql, config: Config, now: Date): Promise<void> {
  await sql.begin(async (tx) => {
    await lockSigningKeys(tx)
    const keys = await selectSigningKeys(tx)
    if (pickSigningKey(keys, now)) return
    const next = keys.filter((k) => signingKeyState(k, now) === 'next').sort((a, b) => +a.activatesAt - +b.activatesAt)[0]
    const created = await createKey(config, now, now)
    if (next) {
      // A key is already scheduled: this stop-gap key hands over to it when it activates.
      created.retiredAt = next.activatesAt
      created.unpublishAt = new Date(+next.activatesAt + retiredKeyOverlapSeconds(config) * 1000)
    }
    await insertSigningKey(tx, created)
    await recordAuditEvent(tx, { type: 'key.created', at: now, actor: 'system', reason: 'no signing key', details: { kid: created.kid } })
  })
  forgetCachedKeys(sql)
}

/** How `rotateSigningKey` treats the keys in use. Default: the overlap path. */
export interface RotateSigningKeyOptions {
  /**
   * Emergency rotation (a key leaked): the new key signs at once instead of after
   * KEY_PUBLISH_AHEAD_SECONDS, the current key retires at once, and a key still waiting to
   * sign is withdrawn (it never signs). Retired keys stay published until their tokens expire.
   */
  immediate?: boolean
  /**
   * Only with `immediate`: also take every earlier key out of the JWKS now, so every access
   * token they signed stops verifying at an edge as soon as it refetches the JWKS. Sessions
   * survive: their holders refresh and get tokens signed by the new key.
   */
  revokePrevious?: boolean
}

/** What a rotation did: the new key, and each earlier key it retired or unpublished. */
export interface RotatedSigningKey {
  kid: string
  activatesAt: Date
  retired: { kid: string; retiredAt: Date; unpublishAt: Date }[]
}

/**
 * Rotates with overlap: the new key is published now and signs only after
 * KEY_PUBLISH_AHEAD_SECONDS (edges fetch it meanwhile); the current key retires at that moment
 * and stays published for ACCESS_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS more, until every
 * token it signed has expired. With no current key the new one signs at once. A second
 * rotation while a key waits to sign is a Conflict, unless it is `immediate`.
 *
 * `immediate` trades the publish-ahead period for speed: an edge meets the new `kid` before
 * its cached JWKS has it and refetches (edge/jwks.ts, once per cooldown). `revokePrevious`
 * additionally trades every outstanding access token of the earlier keys for the certainty
 * that a leaked key verifies nothing once the edges have refetched. Other central instances
 * follow within their key cache (CACHE_SECONDS), so the old key's unpublish time includes it.
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4.5
 */
export async function rotateSigningKey(
  sql: Sql,
  config: Config,
  now: Date,
  actor: string,
  options: RotateSigningKeyOptions = {},
): Promise<RotatedSigningKey> {
  const immediate = options.immediate === true
  const revokePrevious = immediate && options.revokePrevious === true
  const reason = revokePrevious ? 'emergency rotation, previous keys revoked' : immediate ? 'emergency rotation' : 'rotation'
  const result = await sql.begin(async (tx) => {
    await lockSigningKeys(tx)
    const keys = await selectSigningKeys(tx)
    const pending = keys.filter((k) => signingKeyState(k, now) === 'next')
    if (pending[0] && !immediate) {
      throw new Conflict(`key ${pending[0].kid} is already scheduled to sign from ${pending[0].activatesAt.toISOString()}`)
    }
    const signing = keys.filter((k) => signingKeyState(k, now) === 'active')
    const activatesAt = signing.length > 0 && !immediate ? new Date(+now + config.KEY_PUBLISH_AHEAD_SECONDS * 1000) : now
    const created = await createKey(config, now, activatesAt)
    await insertSigningKey(tx, created)
    await recordAuditEvent(tx, { type: 'key.created', at: now, actor, reason, details: { kid: created.kid, activatesAt, immediate } })

    const retired: RotatedSigningKey['retired'] = []
    const retire = async (kid: string, retiredAt: Date, unpublishAt: Date, why: string) => {
      await scheduleKeyRetirement(tx, kid, retiredAt, unpublishAt)
      await recordAuditEvent(tx, { type: 'key.retired', at: now, actor, reason: why, details: { kid, retiredAt, unpublishAt, replacedBy: created.kid } })
      retired.push({ kid, retiredAt, unpublishAt })
    }
    if (!immediate) {
      const current = pickSigningKey(signing, now)
      if (current) await retire(current.kid, activatesAt, new Date(+activatesAt + retiredKeyOverlapSeconds(config) * 1000), reason)
      return { kid: created.kid, activatesAt, retired }
    }

    // A scheduled key never signed anything, so it can leave the JWKS at once; it may be as
    // exposed as the current one (same table, same secret), so it does not get to sign.
    for (const key of pending) await retire(key.kid, now, now, `${reason}: withdrawn before it signed`)
    // Another instance may sign with the old key until its cache expires (CACHE_SECONDS); the
    // overlap counts from then, so those tokens stay valid unless the key is revoked.
    const unpublishAt = revokePrevious ? now : new Date(+now + (CACHE_SECONDS + retiredKeyOverlapSeconds(config)) * 1000)
    for (const key of signing) await retire(key.kid, now, unpublishAt, reason)
    if (revokePrevious) {
      // Keys retired by earlier rotations but still published verify forged tokens just as well.
      const alreadyRetired = keys.filter((k) => signingKeyState(k, now) === 'retired' && isPublished(k, now))
      for (const key of alreadyRetired) {
        await scheduleKeyRetirement(tx, key.kid, key.retiredAt ?? now, now)
        retired.push({ kid: key.kid, retiredAt: key.retiredAt ?? now, unpublishAt: now })
      }
      for (const key of [...signing, ...alreadyRetired]) {
        await recordAuditEvent(tx, {
          type: 'key.unpublished',
          at: now,
          actor,
          reason,
          details: { kid: key.kid, unpublishedAt: now, consequence: 'access tokens signed by this key no longer verify once edges refetch the JWKS' },
        })
      }
    }
    return { kid: created.kid, activatesAt, retired }
  })
  forgetCachedKeys(sql)
  return result
}

/** Every key with its state at `now`, newest first. */
export async function listSigningKeys(sql: Queryable, now: Date): Promise<SigningKeyView[]> {
  const keys = await selectSigningKeys(sql)
  return keys.map((k) => ({
    kid: k.kid,
    alg: k.alg,
    state: signingKeyState(k, now),
    published: isPublished(k, now),
    createdAt: k.createdAt,
    activatesAt: k.activatesAt,
    retiredAt: k.retiredAt,
    unpublishAt: k.unpublishAt,
  }))
}

async function createKey(config: Config, now: Date, activatesAt: Date): Promise<SigningKeyRow> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  // RFC 7638 thumbprint as kid: stable, derived from the key, no coordination needed.
  const kid = await calculateJwkThumbprint(publicJwk)
  const privateJwk = await exportJWK(privateKey)
  return {
    kid,
    alg: SIGNING_ALGORITHM,
    publicJwk: { ...publicJwk, kid, alg: SIGNING_ALGORITHM, use: 'sig' },
    privateJwkSealed: seal(keyEncryptionKey(config), Buffer.from(JSON.stringify(privateJwk)), kid),
    createdAt: now,
    activatesAt,
    retiredAt: null,
    unpublishAt: null,
  }
}

function keyEncryptionKey(config: Config): Buffer {
  return deriveKey(config.KEY_ENCRYPTION_SECRET ?? LOCAL_KEY_ENCRYPTION_SECRET, 'signing-key-encryption/v1')
}

// --- Per-process cache -----------------------------------------------------------------
// The key table is re-read at most every CACHE_SECONDS (of the injected clock) per pool;
// decrypted private keys are cached by kid (a kid's key never changes). A key scheduled on
// another instance is seen within CACHE_SECONDS — far inside KEY_PUBLISH_AHEAD_SECONDS.
const CACHE_SECONDS = 10

/** The decrypted key that signs at a given instant, as node:crypto signs with it (see mintAccessToken). */
export interface SigningKey {
  kid: string
  privateKey: KeyObject
}

interface KeyCache {
  loadedAtMs: number
  rows: SigningKeyRow[]
  privateKeys: Map<string, KeyObject>
  /** jose's set of the published keys (it imports each key once), with the kids it was built from. */
  verification?: { kids: string; keySet: ReturnType<typeof createLocalJWKSet> }
}
const caches = new WeakMap<object, KeyCache>()

function forgetCachedKeys(sql: object): void {
  const cache = caches.get(sql)
  if (cache) cache.loadedAtMs = Number.NEGATIVE_INFINITY
}

async function cachedRows(sql: Sql, now: Date): Promise<KeyCache> {
  let cache = caches.get(sql)
  const age = cache ? now.getTime() - cache.loadedAtMs : Infinity
  if (!cache || age > CACHE_SECONDS * 1000 || age < 0) {
    const rows = await selectSigningKeys(sql)
    cache = { loadedAtMs: now.getTime(), rows, privateKeys: cache?.privateKeys ?? new Map(), verification: cache?.verification }
    caches.set(sql, cache)
  }
  return cache
}

/** The key that signs access tokens at `now`, decrypted. Throws if none (ensureSigningKeys not run). */
export async function getSigningKey(sql: Sql, config: Config, now: Date): Promise<SigningKey> {
  const cache = await cachedRows(sql, now)
  const row = pickSigningKey(cache.rows, now)
  if (!row) throw new Error('no active signing key; ensureSigningKeys was not run')
  let privateKey = cache.privateKeys.get(row.kid)
  if (!privateKey) {
    const jwk = JSON.parse(open(keyEncryptionKey(config), row.privateJwkSealed, row.kid).toString('utf8')) as JWK
    privateKey = createPrivateKey({ key: jwk, format: 'jwk' })
    cache.privateKeys.set(row.kid, privateKey)
  }
  return { kid: row.kid, privateKey }
}

/**
 * RFC 7517 public keys to publish at `now`: next, active and not-yet-unpublished retired keys.
 * `fresh` reads the table instead of this process's cache: the JWKS endpoint uses it so that an
 * edge refetching after an immediate rotation on another instance finds the new `kid` at once
 * (an edge that misses it waits a whole refetch cooldown before trying again).
 */
export async function getPublishedJwks(sql: Sql, now: Date, options: { fresh?: boolean } = {}): Promise<{ keys: JWK[] }> {
  if (options.fresh) forgetCachedKeys(sql)
  const cache = await cachedRows(sql, now)
  return { keys: cache.rows.filter((k) => isPublished(k, now)).map((k) => k.publicJwk as JWK) }
}

/**
 * The key set central verifies its own access tokens with: the published keys at `now`, as a jose
 * local JWKS built again only when that list changes, so a key is imported once and not on every
 * `/auth` request.
 */
export async function getVerificationKeySet(sql: Sql, now: Date): Promise<ReturnType<typeof createLocalJWKSet>> {
  const cache = await cachedRows(sql, now)
  const published = cache.rows.filter((k) => isPublished(k, now))
  const kids = published.map((k) => k.kid).join(' ')
  if (cache.verification?.kids !== kids) {
    cache.verification = { kids, keySet: createLocalJWKSet({ keys: published.map((k) => k.publicJwk as JWK) }) }
  }
  return cache.verification.keySet
}
