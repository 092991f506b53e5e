import { createHash, randomBytes } from 'node:crypto'
import { deriveKey, open, seal } from '../tokens/seal'

/** 32 random bytes (256 bits) → 43 base64url characters. */
const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/**
 * A new opaque refresh token: 256 bits from the CSPRNG, base64url.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.10
 */
export function generateRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

/** True when the string has the shape of one of our tokens (cheap filter before any lookup). */
export function looksLikeRefreshToken(value: string): boolean {
  return REFRESH_TOKEN_PATTERN.test(value)
}

/** Refresh tokens are stored as SHA-256 only: a database dump yields no usable token. */
export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

/**
 * Seals the successor under a key derived (HKDF) from the presented token, so only someone
 * holding the presented token can recover the successor; the database alone cannot.
 * This is what makes retry-safe rotation possible without storing a token in plaintext.
 */
export function sealSuccessor(presentedToken: string, successorToken: string, sessionId: string): Buffer {
  return seal(deriveKey(presentedToken, 'refresh-successor/v1'), Buffer.from(successorToken), sessionId)
}

export function openSuccessor(presentedToken: string, sealed: Uint8Array, sessionId: string): string {
  return open(deriveKey(presentedToken, 'refresh-successor/v1'), sealed, sessionId).toString('utf8')
}
