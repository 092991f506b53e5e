import { isIP } from 'node:net'
import { z } from 'zod'
import { ADMIN_ROLE } from '../../shared/access-token-claims'

/** Hosts where a plain-http issuer is accepted: a provider on this machine (development, tests). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '')
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1'
}

const StringList = z.array(z.string().min(1).max(200))

const GrantSchema = z.object({
  audiences: StringList.default([]),
  scopes: StringList.default([]),
  roles: StringList.default([]),
})

const IssuerSchema = z.url().refine(
  (value) => {
    const url = new URL(value)
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
  },
  { message: 'must be an https URL (http only on a loopback host)' },
)

const ProviderBaseSchema = z.object({
  /** Appears in URLs (`/auth/sign-in/:id`, `/auth/callback/:id`). */
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, _ and - only (at most 63)'),
  issuer: IssuerSchema,
  client_id: z.string().min(1).max(500),
  /** Space-separated, as in the authorization request (OIDC Core §3.1.2.1). */
  scopes: z.string().default('openid email profile').refine((s) => s.split(' ').includes('openid'), { message: 'must include openid' }),
  label: z.string().min(1).max(100).optional(),
  /** What a person signing in through this provider gets when their user is created here. */
  grant: GrantSchema.default({ audiences: [], scopes: [], roles: [] }),
  allowed_email_domains: z.array(z.string().min(1).max(253).transform((d) => d.toLowerCase())).min(1).optional(),
  roles_claim: z.string().min(1).max(100).optional(),
  /**
   * Splits a roles claim sent as one string (e.g. `" "` for a space-separated list); without it
   * such a claim is one value, so free text cannot assemble a mapped value out of its words.
   */
  roles_claim_separator: z.string().min(1).max(5).optional(),
  roles_map: z.record(z.string(), z.union([z.string().min(1), z.array(z.string().min(1))])).optional(),
  /** Lets roles_map hand out portcullis:admin (the console and admin role); refused otherwise. */
  allow_admin_role: z.boolean().default(false),
  require_existing_user: z.boolean().default(false),
  link_by_email: z.boolean().default(false),
  require_verified_email: z.boolean().default(true),
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
})

const SecretAuthSchema = ProviderBaseSchema.extend({
  client_auth: z.enum(['client_secret_post', 'client_secret_basic']).default('client_secret_post'),
  client_secret: z.string().min(1).max(1000),
})

/** RFC 7523 §2.2: central signs a client assertion with a key it generates and publishes. */
const PrivateKeyJwtSchema = ProviderBaseSchema.extend({
  client_auth: z.literal('private_key_jwt'),
})

const ProviderSchema = z
  .union([PrivateKeyJwtSchema, SecretAuthSchema])
  .refine((p) => (p.roles_claim === undefined) === (p.roles_map === undefined), {
    message: 'roles_claim and roles_map go together',
  })
  .refine((p) => p.allow_admin_role || !Object.values(p.roles_map ?? {}).flat().includes(ADMIN_ROLE), {
    message: `roles_map maps to ${ADMIN_ROLE}: a provider's group would make its members console admins; set allow_admin_role: true if that is meant`,
    path: ['roles_map'],
  })

export const IdentityProvidersSchema = z.array(ProviderSchema).superRefine((providers, ctx) => {
  const seen = new Set<string>()
  providers.forEach((provider, index) => {
    if (seen.has(provider.id)) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate provider id "${provider.id}"` })
    seen.add(provider.id)
  })
})

export type IdentityProvider = z.infer<typeof ProviderSchema>

export class IdentityProvidersError extends Error {}

/**
 * Parses IDENTITY_PROVIDERS (a JSON array) once at start. Errors name the entry by index and,
 * when it has one, its id; secrets never appear in them.
 */
export function parseIdentityProviders(json: string | undefined): IdentityProvider[] {
  if (json === undefined || json.trim() === '') return []
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    throw new IdentityProvidersError('IDENTITY_PROVIDERS: not valid JSON')
  }
  const parsed = IdentityProvidersSchema.safeParse(raw)
  if (parsed.success) return parsed.data
  const lines = parsed.error.issues.map((issue) => {
    const [index, ...rest] = issue.path
    const entry = typeof index === 'number' && Array.isArray(raw) ? raw[index] : undefined
    const id = entry && typeof entry === 'object' && typeof (entry as { id?: unknown }).id === 'string' ? ` (id "${(entry as { id: string }).id}")` : ''
    const where = typeof index === 'number' ? `[${index}]${id}${rest.length ? '.' + rest.join('.') : ''}` : ''
    return `  IDENTITY_PROVIDERS${where}: ${issue.message}`
  })
  throw new IdentityProvidersError(`invalid IDENTITY_PROVIDERS:\n${lines.join('\n')}`)
}
