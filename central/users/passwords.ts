import { hash, verify } from '@node-rs/argon2'
import { randomBytes } from 'node:crypto'

/**
 * OWASP Password Storage Cheat Sheet, argon2id minimum: m=19 MiB, t=2, p=1.
 * `algorithm: 2` is `Algorithm.Argon2id`; the package declares it as an ambient const enum,
 * which `isolatedModules` cannot inline, so the value is spelled out.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id
 */
export const ARGON2ID_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

/** Password policy (NIST SP 800-63B §5.1.1.2: at least 8 characters; a cap bounds hashing cost). */
export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 1024

/**
 * Hashes a password into an argon2id PHC string (salt and parameters included).
 * @see https://www.rfc-editor.org/rfc/rfc9106
 */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID_OPTIONS)
}

/**
 * True when `password` matches the PHC string. A malformed stored hash counts as a mismatch
 * (logged by nobody: the caller answers the same 401 either way).
 * @see https://www.rfc-editor.org/rfc/rfc9106
 */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password)
  } catch {
    return false
  }
}

let dummyHash: Promise<string> | undefined

/**
 * A hash of a random password with the same parameters, verified against when the user is
 * unknown (or has no password), so "no such user" costs the same argon2 work as "wrong
 * password" and response timing does not reveal which usernames exist.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html#authentication-responses
 */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64url'))
  return dummyHash
}
