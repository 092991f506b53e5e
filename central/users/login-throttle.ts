/**
 * Login throttling decisions (pure). The counts themselves live in PostgreSQL
 * (`login_attempts`, see store.ts) so every central instance shares them.
 *
 * Three counters, as Keycloak's brute-force detection keeps them apart: per username *and*
 * client address (a low limit: the guesser at one address), per username across all addresses
 * (a much higher ceiling: a guesser spread over many addresses), and per address (one address
 * spraying many usernames). A stranger's failures fill the counter of *their* address, so the
 * owner signing in from elsewhere is not locked out by them; only the ceiling, far above what
 * one address may try, still stops everyone, and an admin can clear it (`user.unlocked`).
 *
 * Each attempt is *reserved* before the password is checked: the counter is incremented
 * atomically first and the attempt proceeds only if the new count is within the limit. So
 * N concurrent guesses cannot all slip past a check-then-increment race; a success then
 * resets the username's counters and hands the address reservation back.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html#login-throttling
 * @see https://www.keycloak.org/docs/latest/server_admin/#password-guess-brute-force-attacks
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
  /** Per username and client address: what one guesser at one address may try. */
  maxFailuresPerUsernameAndIp: number
  /** Per username across every address: the ceiling for guessing spread over many addresses. */
  maxFailuresPerUsername: number
  maxFailuresPerIp: number
  windowSeconds: number
}

/** The counters one login attempt reserves. */
export interface ThrottleKeys {
  usernameAndIp: string
  username: string
  ip: string
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
export const usernameKey = (username: string) => `user:${usernameDigest(username)}`
export const ipKey = (ip: string) => `ip:${ip || 'unknown'}`
/** `user-ip:<username digest>:<address>`: the digest first, so an unlock finds every address of one username by prefix. */
export const usernameAndIpKey = (username: string, ip: string) => `${usernameAndIpKeyPrefix(username)}${ip || 'unknown'}`
export const usernameAndIpKeyPrefix = (username: string) => `user-ip:${usernameDigest(username)}:`

const usernameDigest = (username: string) => createHash('sha256').update(username).digest('hex')

export function throttleKeys(username: string, ip: string): ThrottleKeys {
  return { usernameAndIp: usernameAndIpKey(username, ip), username: usernameKey(username), ip: ipKey(ip) }
}

/** The limit of the counter a key names. */
export function limitOf(key: string, limits: ThrottleLimits): number {
  if (key.startsWith('ip:')) return limits.maxFailuresPerIp
  if (key.startsWith('user-ip:')) return limits.maxFailuresPerUsernameAndIp
  return limits.maxFailuresPerUsername
}

/** What a throttled attempt is told: which counter is full, never whose failures filled it. */
export function describeThrottledKey(key: string): string {
  if (key.startsWith('ip:')) return 'from this address'
  if (key.startsWith('user-ip:')) return 'for this username from this address'
  return 'for this username'
}

/** Throttled when any key's count (this attempt included) exceeds its limit. */
export function decideLoginThrottle(counts: AttemptCount[], limits: ThrottleLimits, now: Date): ThrottleDecision {
  let worst: ThrottleDecision = { kind: 'allowed' }
  for (const count of counts) {
    const max = limitOf(count.key, limits)
    if (count.failures <= max) continue
    const windowEndsMs = count.windowStart.getTime() + limits.windowSeconds * 1000
    const retryAfterSeconds = Math.max(1, Math.ceil((windowEndsMs - now.getTime()) / 1000))
    if (worst.kind === 'allowed' || retryAfterSeconds > worst.retryAfterSeconds) {
      worst = { kind: 'throttled', key: count.key, retryAfterSeconds }
    }
  }
  return worst
}
