import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { deriveKey, open, seal } from '../tokens/seal'

/**
 * Refresh token format (opaque to clients, base64url, 91 characters):
 *
 *   session id (16 bytes) | generation (uint32, big-endian) | 256 random bits | tag (16 bytes)
 *
 * `tag` = HMAC-SHA256(chain key, id | generation | random), truncated to 128 bits, the chain key
 * derived from central's KEY_ENCRYPTION_SECRET. The session id lets a refresh find its row by
 * primary key; the random part is what makes the token unguessable; the tag proves central issued
 * this token at this position of this chain. Only the SHA-256 of the whole token is stored.
 *
 * A chain's first token takes its random part from the CSPRNG; each successor takes it from
 * HMAC-SHA256(chain key, salt of its rotation | predecessor), see successorRefreshToken.
 *
 * Tokens of the earlier format (43 characters: 256 random bits) keep working until they rotate.
 */
const SESSION_ID_BYTES = 16
const GENERATION_BYTES = 4
const RANDOM_BYTES = 32
const TAG_BYTES = 16
const BODY_BYTES = SESSION_ID_BYTES + GENERATION_BYTES + RANDOM_BYTES
const TOKEN_BYTES = BODY_BYTES + TAG_BYTES

const CHAINED_TOKEN_PATTERN = /^[A-Za-z0-9_-]{91}$/
const LEGACY_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/**
 * The highest generation a token may name: `sessions.generation` is a PostgreSQL integer, and the
 * successor of a token is at `generation + 1`, which must fit too.
 */
export const MAX_REFRESH_TOKEN_GENERATION = 2 ** 31 - 2

/** What a refresh token says about itself before any lookup. */
export type PresentedRefreshToken =
  /** Current format: names its session and position; `genuine` when the tag verifies. */
  | { kind: 'chained'; sessionId: string; generation: number; tokenHash: Buffer; genuine: boolean }
  /** Earlier format: found by its hash in legacy_refresh_tokens. */
  | { kind: 'legacy'; tokenHash: Buffer }

/** The key that tags refresh tokens, derived from the secret that encrypts signing keys. */
export function deriveChainKey(secret: string): Buffer {
  return deriveKey(secret, 'refresh-token-chain/v1')
}

function tagOf(chainKey: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', chainKey).update(body).digest().subarray(0, TAG_BYTES)
}

function uuidBytes(sessionId: string): Buffer {
  return Buffer.from(sessionId.replaceAll('-', ''), 'hex')
}

function uuidFromBytes(bytes: Buffer): string {
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * The first refresh token of session `sessionId` (position `generation`, 0 for a new chain): 256
 * bits from the CSPRNG plus the keyed tag.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.10
 */
export function generateRefreshToken(chainKey: Buffer, sessionId: string, generation: number): string {
  return chainedToken(chainKey, sessionId, generation, randomBytes(RANDOM_BYTES))
}

/** Input prefix of the successor derivation, apart from the tag's input (52 bytes, never this long). */
const SUCCESSOR_PURPOSE = Buffer.from('portcullis/refresh-successor/v2\0')
const SUCCESSOR_SALT_BYTES = 16

/** The salt of one rotation: drawn when it happens, kept on the session row until the next one. */
export function newSuccessorSalt(): Buffer {
  return randomBytes(SUCCESSOR_SALT_BYTES)
}

/**
 * The token that replaces `presentedToken` at position `generation` of its chain: its random part
 * is HMAC-SHA256(chain key, purpose | salt | presented token). Without the chain key that is as
 * unpredictable as CSPRNG output; given the same salt it is the same on every call, so a retry of
 * a refresh whose answer was lost gets the identical successor back without central keeping it
 * in any form (the row holds its hash and the salt). Each rotation's salt replaces the last one's,
 * so even the chain key and an old token do not lead forward along the chain.
 */
export function successorRefreshToken(chainKey: Buffer, presentedToken: string, salt: Uint8Array, sessionId: string, generation: number): string {
  const random = createHmac('sha256', chainKey).update(SUCCESSOR_PURPOSE).update(salt).update(presentedToken).digest()
  return chainedToken(chainKey, sessionId, generation, random)
}

function chainedToken(chainKey: Buffer, sessionId: string, generation: number, random: Buffer): string {
  const body = Buffer.allocUnsafe(BODY_BYTES)
  uuidBytes(sessionId).copy(body, 0)
  body.writeUInt32BE(generation, SESSION_ID_BYTES)
  random.copy(body, SESSION_ID_BYTES + GENERATION_BYTES, 0, RANDOM_BYTES)
  return Buffer.concat([body, tagOf(chainKey, body)]).toString('base64url')
}

/** True when the string has the shape of one of our tokens (cheap filter before any lookup). */
export function looksLikeRefreshToken(value: string): boolean {
  return CHAINED_TOKEN_PATTERN.test(value) || LEGACY_TOKEN_PATTERN.test(value)
}

/** Refresh tokens are stored as SHA-256 only: a database dump yields no usable token. */
export function sha256RefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

/**
 * Reads a presented token. The tag is checked only here, in constant time (`genuine`). Undefined
 * when the string is no token of ours: wrong shape, a spelling other than the canonical base64url
 * one (base64url leaves unused trailing bits, so one token would have several spellings, each with
 * its own SHA-256), or a generation past `MAX_REFRESH_TOKEN_GENERATION`.
 */
export function parseRefreshToken(token: string, chainKey: Buffer): PresentedRefreshToken | undefined {
  if (LEGACY_TOKEN_PATTERN.test(token)) {
    if (!isCanonicalBase64url(token)) return undefined
    return { kind: 'legacy', tokenHash: sha256RefreshToken(token) }
  }
  if (!CHAINED_TOKEN_PATTERN.test(token)) return undefined
  const bytes = Buffer.from(token, 'base64url')
  if (bytes.length !== TOKEN_BYTES || bytes.toString('base64url') !== token) return undefined
  const generation = bytes.readUInt32BE(SESSION_ID_BYTES)
  if (generation > MAX_REFRESH_TOKEN_GENERATION) return undefined
  const body = bytes.subarray(0, BODY_BYTES)
  return {
    kind: 'chained',
    sessionId: uuidFromBytes(bytes.subarray(0, SESSION_ID_BYTES)),
    generation,
    tokenHash: sha256RefreshToken(token),
    genuine: timingSafeEqual(tagOf(chainKey, body), bytes.subarray(BODY_BYTES)),
  }
}

/**
 * `parseRefreshToken`, keeping only what central may have issued: a current-format token whose
 * tag verifies, or an earlier-format one (its hash decides). Everything else is undefined, so it
 * never reaches the database.
 */
export function readIssuedRefreshToken(token: string, chainKey: Buffer): PresentedRefreshToken | undefined {
  const presented = parseRefreshToken(token, chainKey)
  return presented?.kind === 'chained' && !presented.genuine ? undefined : presented
}

function isCanonicalBase64url(token: string): boolean {
  return Buffer.from(token, 'base64url').toString('base64url') === token
}


/**
 * The successor as the release before successorRefreshToken kept it: sealed under a key derived
 * (HKDF) from the presented token. Rows it rotated last still hold one until they rotate again;
 * a retry within the grace window opens it (tests seal one to stand for such a row).
 */
export function sealSuccessor(presentedToken: string, successorToken: string, sessionId: string): Buffer {
  return seal(deriveKey(presentedToken, 'refresh-successor/v1'), Buffer.from(successorToken), sessionId)
}

export function openSuccessor(presentedToken: string, sealed: Uint8Array, sessionId: string): string {
  return open(deriveKey(presentedToken, 'refresh-successor/v1'), sealed, sessionId).toString('utf8')
}
