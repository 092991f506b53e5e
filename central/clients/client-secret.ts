import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * A new client secret: 256 bits from the CSPRNG, base64url. Central always generates secrets
 * (never accepts a chosen one), which is what makes a fast hash safe to store them with.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.10
 */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * SHA-256 of the secret. Not argon2: a 256-bit random secret cannot be guessed from its hash
 * (argon2's cost protects low-entropy passwords), and the token endpoint checks a secret on every
 * client-credentials request, where tens of milliseconds of argon2 per token would be the
 * bottleneck. Same reasoning as refresh tokens stored as SHA-256.
 */
export function hashClientSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest()
}

/**
 * Whether `presented` is the secret behind `secretHash`, comparing the fixed-length digests in
 * constant time (RFC 6749 §2.3.1 leaves timing to us; a byte-wise compare would leak a prefix).
 */
export function clientSecretMatches(secretHash: Buffer, presented: string): boolean {
  const digest = hashClientSecret(presented)
  return digest.length === secretHash.length && timingSafeEqual(digest, secretHash)
}
