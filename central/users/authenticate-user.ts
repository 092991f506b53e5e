import type { Sql } from 'postgres'
import { z } from 'zod'
import type { Config } from '../config'
import { InvalidCredentials, TooManyRequests } from '../../shared/errors'
import { dummyPasswordHash, PASSWORD_MAX_LENGTH, verifyPassword } from './passwords'
import { decideLoginThrottle, describeThrottledKey, throttleKeys, type ThrottleLimits } from './login-throttle'
import {
  findUserByUsername,
  recordLoginFailure,
  releaseLoginAttempt,
  reserveLoginAttempts,
  resetLoginAttempts,
} from './store'

/** Who logged in, and what they may be granted. No personal data beyond the username. */
export interface AuthenticatedUser {
  id: string
  username: string
  audiences: string[]
  scopes: string[]
  roles: string[]
  /**
   * The stored hash the password was verified against. The transaction that creates the session
   * compares it with the row it locks: a password change committed while argon2 ran (an owner
   * locking out whoever knows the old password) must not be followed by a session for the old one.
   * Stays inside central: never in a response, log or audit event.
   */
  verifiedPasswordHash: string
}

export interface LoginAttempt {
  username: string
  password: string
  /** Client address as central sees it (after TRUST_PROXY handling); '' when unknown. */
  ip: string
  now: Date
}

/**
 * What a login may carry, checked where a login comes in (POST /auth/login, the console sign-in)
 * before any database work: no account has a longer username, so a longer one is refused without
 * reaching PostgreSQL or argon2.
 */
export const LoginCredentialsSchema = z.object({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
})

/**
 * The same message for unknown user, wrong password and disabled user: nothing tells them apart.
 * Also what a login gets when the user is disabled or the password changes while it runs (startSession).
 */
export const INVALID_CREDENTIALS = 'username or password is incorrect'

/**
 * Checks a username and password. Unknown user, wrong password and disabled user all throw
 * the same `InvalidCredentials` after the same argon2 work (an unknown user is verified
 * against a dummy hash) and the same one audit insert, so neither the answer nor its timing
 * reveals which usernames exist.
 * Attempts are reserved in PostgreSQL per username and address, per username and per address
 * before the password is checked (see login-throttle.ts); over a limit → `TooManyRequests` with
 * the seconds until the window ends. Success resets the username's counts.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html#authentication-and-error-messages
 */
export async function authenticateUser(
  sql: Sql,
  config: Pick<
    Config,
    'LOGIN_MAX_FAILURES_PER_USERNAME_AND_IP' | 'LOGIN_MAX_FAILURES_PER_USERNAME' | 'LOGIN_MAX_FAILURES_PER_IP' | 'LOGIN_THROTTLE_WINDOW_SECONDS'
  >,
  attempt: LoginAttempt,
): Promise<AuthenticatedUser> {
  const keys = throttleKeys(attempt.username, attempt.ip)
  const limits = throttleLimitsOf(config)
  const counts = await reserveLoginAttempts(sql, [keys.usernameAndIp, keys.username, keys.ip], { ...limits, now: attempt.now })
  const decision = decideLoginThrottle(counts, limits, attempt.now)
  if (decision.kind === 'throttled') {
    throw new TooManyRequests(`too many failed login attempts ${describeThrottledKey(decision.key)}; retry later`, decision.retryAfterSeconds)
  }

  const user = await findUserByUsername(sql, attempt.username)
  const passwordMatches = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), attempt.password)
  if (!user || !user.passwordHash || !passwordMatches || !user.enabled) {
    // One audit insert on every failure, known user or not: writing it only for known users made
    // their failures measurably slower (an INSERT and a commit), which told which usernames exist.
    // An unknown username is not recorded: the text typed there is sometimes a password.
    const reason = !user ? 'unknown_user' : !user.passwordHash ? 'no_password' : !passwordMatches ? 'wrong_password' : 'disabled'
    await recordLoginFailure(sql, { userId: user?.id ?? null, ip: attempt.ip, reason, now: attempt.now })
    throw new InvalidCredentials(INVALID_CREDENTIALS)
  }

  await resetLoginAttempts(sql, [keys.usernameAndIp, keys.username])
  await releaseLoginAttempt(sql, keys.ip)
  return {
    id: user.id,
    username: user.username,
    audiences: user.audiences,
    scopes: user.scopes,
    roles: user.roles,
    verifiedPasswordHash: user.passwordHash,
  }
}

/** The throttle limits from configuration. */
export function throttleLimitsOf(
  config: Pick<Config, 'LOGIN_MAX_FAILURES_PER_USERNAME_AND_IP' | 'LOGIN_MAX_FAILURES_PER_USERNAME' | 'LOGIN_MAX_FAILURES_PER_IP' | 'LOGIN_THROTTLE_WINDOW_SECONDS'>,
): ThrottleLimits {
  return {
    maxFailuresPerUsernameAndIp: config.LOGIN_MAX_FAILURES_PER_USERNAME_AND_IP,
    maxFailuresPerUsername: config.LOGIN_MAX_FAILURES_PER_USERNAME,
    maxFailuresPerIp: config.LOGIN_MAX_FAILURES_PER_IP,
    windowSeconds: config.LOGIN_THROTTLE_WINDOW_SECONDS,
  }
}
