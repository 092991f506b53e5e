/**
 * Login throttling decisions (pure). The counts themselves live in PostgreSQL
 * (`login_attempts`, see store.ts) so every central instance shares them.
 *
 * Each attempt is *reserved* before the password is checked: the counter is incremented
 * atomically first and the attempt proceeds only if the new count is within the limit. So
 * N concurrent guesses cannot all slip past a check-then-increment race; a success then
 * resets the username counter and hands the IP reservation back.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html#login-throttling
 */

import { createHash } from 'node:crypto'

export interface AttemptCount {
  key: string
  /** Attempts counted in the current window, including the one just reserved. */
  failures: number
  windowStart: Date
}

export type ThrottleDecision = { kind: 'allowed' } | { kind: 'throttled'; key: string; retryAfterSeconds: number }

export interface ThrottleLimits {
  maxFailuresPerUsername: number
  maxFailuresPerIp: number
  windowSeconds: number
}

/**
 * The username exactly as typed, not lower-cased: user lookup is exact (`Victim` and `victim` can
 * be two accounts), so the exact name is what identifies the account under attack. A folded key
 * would let an attacker who owns `victim` clear the count of `Victim` with their own successful
 * login between guesses. Exact keys give no extra guesses either: a case variant is another account.
 *
 * Stored as its SHA-256 (hex), so the key has the same small size whatever a caller passes (a
 * raw username past 2704 bytes does not fit the `login_attempts` primary-key index), and the
 * table never holds the typed text, which is sometimes a password entered in the wrong field.
 */
export const usernameKey = (username: string) => `user:${createHash('sha256').update(username).digest('hex')}`
export const ipKey = (ip: string) => `ip:${ip || 'unknown'}`

/** Throttled when any key's count (this attempt included) exceeds its limit. */
export function decideLoginThrottle(counts: AttemptCount[], limits: ThrottleLimits, now: Date): ThrottleDecision {
  let worst: ThrottleDecision = { kind: 'allowed' }
  for (const count of counts) {
    const max = count.key.startsWith('ip:') ? limits.maxFailuresPerIp : limits.maxFailuresPerUsername
    if (count.failures <= max) continue
    const windowEndsMs = count.windowStart.getTime() + limits.windowSeconds * 1000
    const retryAfterSeconds = Math.max(1, Math.ceil((windowEndsMs - now.getTime()) / 1000))
    if (worst.kind === 'allowed' || retryAfterSeconds > worst.retryAfterSeconds) {
      worst = { kind: 'throttled', key: count.key, retryAfterSeconds }
    }
  }
  return worst
}
