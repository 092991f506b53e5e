import { z } from 'zod'
import { DEFAULT_IDENTITY_HEADER_PREFIX } from '../shared/identity-headers'
import { REVOCATION_FEED_PATH } from '../shared/revocation-feed'
import type { RevocationFeedSettings } from './revocations'
import { routeComparisonForm, type Route } from './routes'

/**
 * One entry of the route table as written in `ROUTES` (JSON). A path prefix, optionally limited to
 * some methods, maps to an origin; protected routes name the audience the token must carry.
 */
export const RouteEntrySchema = z
  .strictObject({
    /** Path prefix, normalized (no `.`/`..` segments, no `//`, nothing percent-encoded, no `;`). */
    prefix: z
      .string()
      .regex(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/, 'must start with "/" and contain only plain path characters')
      // Request paths are matched without their `;…` parameters, so such a prefix would never match.
      .refine((prefix) => !prefix.includes(';'), 'must not contain ";" (path parameters are ignored when routes are matched)')
      .refine((prefix) => !prefix.includes('//'), 'must not contain "//"')
      .refine((prefix) => !prefix.split('/').some((segment) => segment === '.' || segment === '..'), 'must not contain "." or ".." segments'),
    /** Origin the request is forwarded to; the request path is appended unchanged. */
    origin: z
      .url({ protocol: /^https?$/ })
      .refine((origin) => {
        const url = new URL(origin)
        return url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password
      }, 'must be a bare http(s) origin without path, query, fragment or credentials'),
    methods: z
      .array(z.string().regex(/^[A-Za-z]+$/, 'must be an HTTP method name'))
      .min(1)
      .transform((methods) => methods.map((method) => method.toUpperCase()))
      .optional(),
    public: z.boolean().default(false),
    /** RFC 9068 §4: the resource indicator this route's origin expects in `aud`. */
    audience: z.string().min(1).optional(),
    /** All of these scopes are required (RFC 6749 §3.3). */
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be an RFC 6749 §3.3 scope token')).default([]),
    /** Any one of these roles is required. */
    roles: z.array(z.string().min(1)).default([]),
    /** A web app: a page load without a valid token is sent to central's sign-in, scripts still get 401. */
    browser: z.boolean().default(false),
    /** "required": only DPoP-bound tokens with a proof (RFC 9449); a bearer token gets 401 and a DPoP challenge. */
    dpop: z.literal('required').optional(),
  })
  .superRefine((route, context) => {
    if (!route.public && !route.audience) {
      context.addIssue({ code: 'custom', path: ['audience'], message: 'is required unless "public" is true' })
    }
    if (route.public && (route.audience || route.scopes.length > 0 || route.roles.length > 0)) {
      context.addIssue({ code: 'custom', path: ['public'], message: 'a public route cannot also require an audience, scopes or roles' })
    }
    if (route.public && route.dpop) {
      context.addIssue({ code: 'custom', path: ['dpop'], message: 'a public route takes no token, so it cannot require DPoP' })
    }
    if (route.public && route.browser) {
      context.addIssue({ code: 'custom', path: ['browser'], message: 'a public route never sends anyone to sign in, so it cannot be a browser route' })
    }
  })

export type RouteEntry = z.infer<typeof RouteEntrySchema>

const booleanVar = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', ''])])
  .transform((value) => value === true || value === 'true' || value === '1')

/** A JSON var may arrive as a string (`[vars]` string, `.dev.vars`, secret) or already parsed (TOML table). */
function jsonVar<T extends z.ZodType>(schema: T) {
  return z.union([z.string(), z.array(z.unknown()), z.record(z.string(), z.unknown())]).transform((value, context) => {
    if (typeof value !== 'string') return value
    try {
      return JSON.parse(value) as unknown
    } catch {
      context.addIssue({ code: 'custom', message: 'is not valid JSON' })
      return z.NEVER
    }
  }).pipe(schema)
}

/** The revocation bound: no request is answered from a copy of the feed older than this. */
const DEFAULT_REVOCATION_TRUST_SECONDS = 1.5

const JwkSetSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) })

const EnvSchema = z
  .object({
    ISSUER: z.url(),
    JWKS_URL: z.url().optional(),
    /** Static JWKS (JSON): replaces fetching `JWKS_URL` entirely. */
    JWKS: jsonVar(JwkSetSchema).optional(),
    CENTRAL_URL: z.url(),
    ROUTES: jsonVar(z.array(z.unknown())),
    IDENTITY_HEADER_PREFIX: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]*-$/, 'must be a header-name prefix ending in "-", e.g. "X-Portcullis-"')
      .default(DEFAULT_IDENTITY_HEADER_PREFIX),
    ACCESS_TOKEN_COOKIE: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a cookie name').default('portcullis_at'),
    CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
    ORIGIN_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
    FORWARD_AUTHORIZATION: booleanVar.default(false),
    JWKS_REFETCH_COOLDOWN_SECONDS: z.coerce.number().min(0).default(30),
    JWKS_MAX_AGE_SECONDS: z.coerce.number().positive().default(300),
    JWKS_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
    VERIFIED_TOKEN_CACHE_SIZE: z.coerce.number().int().min(0).default(10_000),
    REALM: z.string().min(1).default('portcullis'),
    DEBUG: booleanVar.default(false),
    /** Central's revocation feed; default `${CENTRAL_URL}/edge/revocations`. */
    REVOCATION_FEED_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/ }).optional()),
    /** Secret shared with central (wrangler secret). Unset: the feed is off, revoked tokens live until `exp`. */
    EDGE_FEED_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(24, 'must be at least 24 characters (central requires the same)').optional()),
    /** A copy this old is refreshed in the background (from the location's hub, or central). */
    REVOCATION_POLL_SECONDS: z.coerce.number().positive().default(1),
    /** A copy this old is refreshed before the request is answered: how late a revocation may take effect. Default 1.5 s (at most max staleness). */
    REVOCATION_TRUST_SECONDS: z.coerce.number().positive().optional(),
    REVOCATION_MAX_STALENESS_SECONDS: z.coerce.number().positive().default(60),
    /** The per-location hub (Durable Object binding REVOCATION_HUB): its poll of central, idle stop, and the isolates' timeout for it. */
    REVOCATION_HUB_POLL_MS: z.coerce.number().int().min(100).default(500),
    REVOCATION_HUB_IDLE_SECONDS: z.coerce.number().positive().default(60),
    REVOCATION_HUB_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
    REVOCATION_FAILURE_MODE: z.enum(['fail-open', 'fail-closed']).default('fail-open'),
    REVOCATION_TIMEOUT_MS: z.coerce.number().int().positive().default(2_000),
    /** How long after its `iat` a DPoP proof is accepted (RFC 9449 §11.1), and how long its `jti` is remembered. */
    DPOP_PROOF_MAX_AGE_SECONDS: z.coerce.number().int().positive().max(300).default(60),
  })
  .superRefine((env, context) => {
    if (!env.JWKS_URL && !env.JWKS) {
      context.addIssue({ code: 'custom', path: ['JWKS_URL'], message: 'is required unless a static JWKS is configured' })
    }
    // fail-closed without a feed would answer 503 on every protected route forever.
    if (env.REVOCATION_FAILURE_MODE === 'fail-closed' && !env.EDGE_FEED_TOKEN) {
      context.addIssue({ code: 'custom', path: ['EDGE_FEED_TOKEN'], message: 'is required when REVOCATION_FAILURE_MODE is "fail-closed"' })
    }
    if (env.REVOCATION_MAX_STALENESS_SECONDS < env.REVOCATION_POLL_SECONDS) {
      context.addIssue({ code: 'custom', path: ['REVOCATION_MAX_STALENESS_SECONDS'], message: 'must be at least REVOCATION_POLL_SECONDS' })
    }
    const trust = env.REVOCATION_TRUST_SECONDS
    if (trust !== undefined && (trust < env.REVOCATION_POLL_SECONDS || trust > env.REVOCATION_MAX_STALENESS_SECONDS)) {
      context.addIssue({ code: 'custom', path: ['REVOCATION_TRUST_SECONDS'], message: 'must be between REVOCATION_POLL_SECONDS and REVOCATION_MAX_STALENESS_SECONDS' })
    }
  })

/** Typed edge configuration, parsed once per isolate from the Worker's `env`. */
export interface EdgeConfig {
  issuer: string
  jwks: { kind: 'remote'; url: string } | { kind: 'static'; keys: Record<string, unknown>[] }
  centralUrl: string
  routes: Route[]
  identityHeaderPrefix: string
  accessTokenCookie: string
  clockToleranceSeconds: number
  originTimeoutMs: number
  forwardAuthorization: boolean
  jwksRefetchCooldownSeconds: number
  jwksMaxAgeSeconds: number
  jwksTimeoutMs: number
  verifiedTokenCacheSize: number
  realm: string
  debug: boolean
  /** DPoP proofs (RFC 9449) of requests with bound tokens: their `iat` window. */
  dpop: { proofMaxAgeSeconds: number }
  /** The revocation feed; undefined when no EDGE_FEED_TOKEN is configured. */
  revocation: RevocationFeedSettings | undefined
}

/** Paths central serves itself; browsers see one origin for login and cookies. */
export const CENTRAL_PREFIXES = ['/auth/', '/oauth/', '/.well-known/'] as const
/** Single documents of central's: its API description, found on the host clients call. */
export const CENTRAL_PATHS = ['/openapi.json'] as const

/** Thrown once per isolate when `env` is invalid; the message names every bad variable and route entry. */
export class EdgeConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid edge configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'EdgeConfigError'
  }
}

/**
 * Validates the Worker's vars and secrets into an `EdgeConfig`. Errors name the variable, and for
 * `ROUTES` the entry by index and prefix (e.g. `ROUTES[1] (prefix "/api/").audience: …`).
 * @see https://developers.cloudflare.com/workers/configuration/environment-variables/
 */
export function parseEdgeConfig(env: Record<string, unknown>): EdgeConfig {
  const parsed = EnvSchema.safeParse(env)
  if (!parsed.success) {
    throw new EdgeConfigError(parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`))
  }
  const vars = parsed.data
  const problems: string[] = []
  const routes: Route[] = []
  vars.ROUTES.forEach((entry, index) => {
    const prefixLabel =
      entry && typeof entry === 'object' && 'prefix' in entry && typeof entry.prefix === 'string' ? ` (prefix ${JSON.stringify(entry.prefix)})` : ''
    const result = RouteEntrySchema.safeParse(entry)
    if (!result.success) {
      for (const issue of result.error.issues) {
        problems.push(`ROUTES[${index}]${prefixLabel}${issue.path.length ? '.' + issue.path.join('.') : ''}: ${issue.message}`)
      }
      return
    }
    const route = result.data
    const matchPrefix = routeComparisonForm(route.prefix)
    // Compared in the matching form: `/OAuth/token/` would otherwise take central's `/oauth/token`.
    if (CENTRAL_PREFIXES.some((central) => matchPrefix.startsWith(central))) {
      problems.push(`ROUTES[${index}]${prefixLabel}.prefix: is reserved for central (${CENTRAL_PREFIXES.join(', ')})`)
      return
    }
    const centralPath = CENTRAL_PATHS.find((path) => matchPrefix === path || matchPrefix.startsWith(`${path}/`))
    if (centralPath) {
      problems.push(`ROUTES[${index}]${prefixLabel}.prefix: ${centralPath} is central's`)
      return
    }
    const clash = routes.find((other) => other.matchPrefix === matchPrefix && methodsOverlap(other.methods, route.methods))
    if (clash?.prefix === route.prefix) {
      problems.push(`ROUTES[${index}]${prefixLabel}: duplicates ROUTES[${clash.index}] for the same prefix and methods`)
      return
    }
    if (clash) {
      // Both would match the same requests, and which one wins would depend on the table's order.
      problems.push(
        `ROUTES[${index}]${prefixLabel}: differs only in letter case from ROUTES[${clash.index}] (prefix ${JSON.stringify(clash.prefix)}) ` +
          'with overlapping methods; routes are matched case-insensitively, so which one applies would be ambiguous',
      )
      return
    }
    routes.push({
      index,
      prefix: route.prefix,
      matchPrefix,
      origin: new URL(route.origin).origin,
      methods: route.methods,
      public: route.public,
      audience: route.audience,
      scopes: route.scopes,
      roles: route.roles,
      browser: route.browser,
      ...(route.dpop ? { dpop: route.dpop } : {}),
      central: false,
    })
  })
  if (problems.length > 0) throw new EdgeConfigError(problems)

  const centralOrigin = new URL(vars.CENTRAL_URL).origin
  for (const prefix of [...CENTRAL_PREFIXES, ...CENTRAL_PATHS]) {
    routes.push({
      index: -1,
      prefix,
      matchPrefix: prefix,
      origin: centralOrigin,
      methods: undefined,
      public: true,
      audience: undefined,
      scopes: [],
      roles: [],
      browser: false,
      central: true,
    })
  }

  return {
    issuer: vars.ISSUER,
    jwks: vars.JWKS ? { kind: 'static', keys: vars.JWKS.keys } : { kind: 'remote', url: vars.JWKS_URL! },
    centralUrl: centralOrigin,
    routes,
    identityHeaderPrefix: vars.IDENTITY_HEADER_PREFIX,
    accessTokenCookie: vars.ACCESS_TOKEN_COOKIE,
    clockToleranceSeconds: vars.CLOCK_TOLERANCE_SECONDS,
    originTimeoutMs: vars.ORIGIN_TIMEOUT_MS,
    forwardAuthorization: vars.FORWARD_AUTHORIZATION,
    jwksRefetchCooldownSeconds: vars.JWKS_REFETCH_COOLDOWN_SECONDS,
    jwksMaxAgeSeconds: vars.JWKS_MAX_AGE_SECONDS,
    jwksTimeoutMs: vars.JWKS_TIMEOUT_MS,
    verifiedTokenCacheSize: vars.VERIFIED_TOKEN_CACHE_SIZE,
    realm: vars.REALM,
    debug: vars.DEBUG,
    dpop: { proofMaxAgeSeconds: vars.DPOP_PROOF_MAX_AGE_SECONDS },
    revocation: vars.EDGE_FEED_TOKEN
      ? {
          url: vars.REVOCATION_FEED_URL ?? `${centralOrigin}${REVOCATION_FEED_PATH}`,
          token: vars.EDGE_FEED_TOKEN,
          pollSeconds: vars.REVOCATION_POLL_SECONDS,
          trustSeconds:
            vars.REVOCATION_TRUST_SECONDS ??
            Math.max(vars.REVOCATION_POLL_SECONDS, Math.min(DEFAULT_REVOCATION_TRUST_SECONDS, vars.REVOCATION_MAX_STALENESS_SECONDS)),
          maxStalenessSeconds: vars.REVOCATION_MAX_STALENESS_SECONDS,
          failureMode: vars.REVOCATION_FAILURE_MODE,
          fetchTimeoutMs: vars.REVOCATION_TIMEOUT_MS,
          hub: { pollMs: vars.REVOCATION_HUB_POLL_MS, idleSeconds: vars.REVOCATION_HUB_IDLE_SECONDS, timeoutMs: vars.REVOCATION_HUB_TIMEOUT_MS },
        }
      : undefined,
  }
}

function methodsOverlap(a: string[] | undefined, b: string[] | undefined): boolean {
  if (!a || !b) return true
  return a.some((method) => b.includes(method))
}

function formatPath(path: PropertyKey[]): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join('') || '(env)'
}
