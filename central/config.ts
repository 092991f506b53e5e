import { z } from 'zod'
import { parseIdentityProviders } from './federation/identity-providers'
import { feedWindowSeconds } from './revocations/feed-window'

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback)
/** `true` or `false`, exactly as written; anything else is refused. */
const flag = (fallback: boolean) => z.stringbool({ truthy: ['true'], falsy: ['false'], case: 'sensitive' }).default(fallback)
const optionalSecret = (minLength: number) =>
  z.preprocess((v) => (v === '' ? undefined : v), z.string().min(minLength).optional())

/**
 * Every environment variable central reads, with its default. `central/config.ts` is the
 * only reader of the environment; the typed `Config` is passed down as an argument.
 * README's configuration table mirrors this schema.
 */
const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().default('127.0.0.1'),
  /** Absent: an embedded PostgreSQL under PORTCULLIS_DATA_DIR. */
  DATABASE_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url().optional()),
  PORTCULLIS_DATA_DIR: z.string().default('.portcullis'),
  DATABASE_POOL_MAX: z.coerce.number().int().positive().default(10),
  /** `iss` of every access token; the edge must be configured with the same value. */
  ISSUER: z.url().default('http://127.0.0.1:8787'),
  ACCESS_TOKEN_TTL_SECONDS: seconds(900),
  REFRESH_IDLE_TTL_SECONDS: seconds(30 * 24 * 3600),
  REFRESH_ABSOLUTE_TTL_SECONDS: seconds(90 * 24 * 3600),
  REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).default(10),
  /** Revoked/expired sessions and old audit-free rows are purged after this long. At least ACCESS_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS (checked below). */
  SESSION_RETENTION_SECONDS: seconds(30 * 24 * 3600),
  /** Write a `session.refreshed` audit event per rotation (the busiest event by far). */
  AUDIT_REFRESH_EVENTS: flag(true),
  /** Routine audit events (refreshes, successful sign-ins) are purged after this long. */
  AUDIT_RETENTION_SECONDS: seconds(30 * 24 * 3600),
  /** Security audit events (sessions created, reuse, revocations, user, key and client changes) are kept this long. */
  AUDIT_SECURITY_RETENTION_SECONDS: seconds(400 * 24 * 3600),
  /** Encrypts signing keys at rest. Required in production; a fixed local value otherwise. */
  KEY_ENCRYPTION_SECRET: optionalSecret(32),
  /** How long a new signing key is published before it signs (edges pick it up meanwhile). */
  KEY_PUBLISH_AHEAD_SECONDS: z.coerce.number().int().min(0).default(3600),
  /** Admin API Bearer token. Unset: the admin API is off. */
  ADMIN_TOKEN: optionalSecret(24),
  /** Shared secret the edge presents to read the revocation feed. Unset: feed off. */
  EDGE_FEED_TOKEN: optionalSecret(24),
  /** Bearer token for GET /metrics. Unset: metrics off. */
  METRICS_TOKEN: optionalSecret(16),
  /**
   * The edges' revocation bound (their REVOCATION_TRUST_SECONDS): how long until a revocation is
   * enforced everywhere. Central only quotes it to ops (console); set both to the same value.
   */
  REVOCATION_TRUST_SECONDS: z.coerce.number().positive().max(3600).default(1.5),
  /** Edge clock tolerance; the feed keeps entries for ACCESS_TOKEN_TTL + this. */
  CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).default(30),
  /** Failed logins per username from one client address within the window (one guesser's budget). */
  LOGIN_MAX_FAILURES_PER_USERNAME_AND_IP: z.coerce.number().int().positive().default(5),
  /** Failed logins per username from all addresses together: the ceiling for guessing spread over many addresses. */
  LOGIN_MAX_FAILURES_PER_USERNAME: z.coerce.number().int().positive().default(50),
  LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().positive().default(50),
  LOGIN_THROTTLE_WINDOW_SECONDS: seconds(900),
  /** Browser origins allowed to use cookie-authenticated endpoints (CSRF Origin check), comma-separated. */
  ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  /** Trust X-Forwarded-For from the edge/load balancer for the client IP. */
  TRUST_PROXY: flag(false),
  /** `Secure` cookies; only turn off for plain-http local development. */
  COOKIE_SECURE: flag(true),
  /** Lifetime of an ops console sign-in (absolute; sign in again afterwards). */
  CONSOLE_SESSION_TTL_SECONDS: seconds(8 * 3600),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(16 * 1024),
  NODE_ENV: z.string().default('development'),
  /**
   * Where browsers and clients reach central's routes: the edge's origin when central sits behind
   * it. Names the OAuth metadata's endpoints and the sign-in redirect URIs. Default: ISSUER.
   */
  PUBLIC_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url().optional()),
  /** true: only registered clients (admin API `/admin/clients`) may use the token and login endpoints; false keeps implicit ids like `web` working. */
  REQUIRE_REGISTERED_CLIENTS: flag(false),
  /** How long after its `iat` a DPoP proof is accepted at the token endpoint (RFC 9449 §11.1: keep it short). */
  DPOP_PROOF_MAX_AGE_SECONDS: z.coerce.number().int().positive().max(600).default(60),
  /** Upstream OpenID Connect providers people sign in with (JSON array; README "Sign-in with your identity provider"). */
  IDENTITY_PROVIDERS: z
    .string()
    .optional()
    .transform((json, ctx) => {
      try {
        return parseIdentityProviders(json)
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message })
        return z.NEVER
      }
    }),
}).superRefine((config, ctx) => {
  if (config.NODE_ENV === 'production' && !config.KEY_ENCRYPTION_SECRET) {
    ctx.addIssue({ code: 'custom', path: ['KEY_ENCRYPTION_SECRET'], message: 'required when NODE_ENV=production' })
  }
  // The purge deletes revoked sessions older than the retention, and the edge feed lists only the
  // sessions still there; a revoked session's access token stays valid for the feed's window. A
  // shorter retention would drop a revocation from the feed while its token still passes the edge.
  const feedWindow = feedWindowSeconds(config.ACCESS_TOKEN_TTL_SECONDS, config.CLOCK_TOLERANCE_SECONDS)
  if (config.SESSION_RETENTION_SECONDS < feedWindow) {
    ctx.addIssue({
      code: 'custom',
      path: ['SESSION_RETENTION_SECONDS'],
      message:
        `must be at least ACCESS_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS (${feedWindow}), ` +
        'or revoked sessions are purged from the revocation feed while their access tokens are still valid',
    })
  }
})

export type Config = z.infer<typeof ConfigSchema>

/** Used only when KEY_ENCRYPTION_SECRET is unset outside production: local data is not secret. */
export const LOCAL_KEY_ENCRYPTION_SECRET = 'portcullis-local-development-key-encryption-secret'

export class ConfigError extends Error {}

/** Parses the environment once at start; a bad value fails with a message naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = ConfigSchema.safeParse(env)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`)
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`)
  }
  return parsed.data
}
