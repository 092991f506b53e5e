import { ADMIN_ROLE } from '../../shared/access-token-claims'
import type { IdentityProvider } from './identity-providers'

/** What a validated ID token says about the person (the library has checked it). */
export interface ProviderClaims {
  sub: string
  email?: string
  emailVerified: boolean
  preferredUsername?: string
  /** The provider's session id (OIDC Back-Channel Logout 1.0 §2.4), when it sends one. */
  sid?: string
  /** Raw values of the provider's `roles_claim`. */
  roleValues: string[]
}

/** Reads what we use from an ID token's claims, ignoring values of the wrong type. */
export function readProviderClaims(claims: Record<string, unknown>, provider: IdentityProvider): ProviderClaims {
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 500 ? v : undefined)
  const rolesRaw = provider.roles_claim === undefined ? undefined : claims[provider.roles_claim]
  const separator = provider.roles_claim_separator
  const roleValues = Array.isArray(rolesRaw)
    ? rolesRaw.filter((v): v is string => typeof v === 'string')
    : typeof rolesRaw === 'string'
      ? separator === undefined
        ? [rolesRaw]
        : rolesRaw.split(separator).filter((v) => v.length > 0)
      : []
  return {
    sub: String(claims.sub),
    email: text(claims.email)?.toLowerCase(),
    // OIDC Core §5.1: only the boolean true means verified (some providers send "true").
    emailVerified: claims.email_verified === true || claims.email_verified === 'true',
    preferredUsername: text(claims.preferred_username),
    sid: text(claims.sid),
    roleValues,
  }
}

/** Roles this provider may hand out, and those the person's claim maps to right now. */
export function mapRoles(provider: IdentityProvider, roleValues: string[]): { managed: Set<string>; asserted: Set<string> } {
  const managed = new Set<string>()
  const asserted = new Set<string>()
  for (const [value, roles] of Object.entries(provider.roles_map ?? {})) {
    const list = Array.isArray(roles) ? roles : [roles]
    for (const role of list) {
      managed.add(role)
      if (roleValues.includes(value)) asserted.add(role)
    }
  }
  return { managed, asserted }
}

export interface FullGrantLike {
  audiences: string[]
  scopes: string[]
  roles: string[]
}

export interface KnownUser {
  id: string
  enabled: boolean
  grant: FullGrantLike
}

/** The user whose username is the verified email, with what decides whether a provider may take it over. */
export interface EmailLinkCandidate extends KnownUser {
  hasPassword: boolean
  /** The provider that created the user just in time, if one did. */
  createdByProvider: string | null
  /** Issuers the user has an identity linked from already. */
  linkedIssuers: string[]
}

export type IdentityDecision =
  | { kind: 'refused'; reason: string }
  /** The identity is linked already. */
  | ({ kind: 'linked'; userId: string } & SessionAsk)
  /** Link the identity to this existing user (verified email equals their username). */
  | ({ kind: 'link_existing'; userId: string } & SessionAsk)
  /** Create the user just in time, holding `userGrant`, under a username derived from `usernameBase`. */
  | ({ kind: 'create'; usernameBase: string; userGrant: FullGrantLike } & SessionAsk)

/** What the session asks for; `assertedRoles` (within `grant.roles`) are the session's alone. */
export interface SessionAsk {
  grant: FullGrantLike
  /** Roles mapped from the provider's claims at this sign-in; never written to the user. */
  assertedRoles: string[]
}

/**
 * Who this sign-in is, decided from data only: every refusal happens here, before anything is
 * written, so a refused callback leaves no user, link or session behind.
 */
export function decideIdentity(input: {
  provider: IdentityProvider
  claims: ProviderClaims
  /** The ID token's `iss`. */
  issuer: string
  linkedUser: KnownUser | undefined
  userWithEmail: EmailLinkCandidate | undefined
}): IdentityDecision {
  const { provider, claims } = input
  if (provider.require_verified_email && claims.email !== undefined && !claims.emailVerified) {
    return { kind: 'refused', reason: 'the provider has not verified this email address' }
  }
  if (provider.allowed_email_domains) {
    // A domain rule on an unverified address would let anyone type their way in.
    if (claims.email === undefined || !claims.emailVerified) return { kind: 'refused', reason: 'a verified email address is required' }
    const domain = claims.email.slice(claims.email.lastIndexOf('@') + 1)
    if (!provider.allowed_email_domains.includes(domain)) return { kind: 'refused', reason: 'this email domain may not sign in here' }
  }
  const { managed, asserted } = mapRoles(provider, claims.roleValues)
  const assertedRoles = [...asserted]
  // Mapped roles go to this session only, so a group removed at the provider, or an entry removed
  // from roles_map, takes them away at the next sign-in. Roles the provider manages that a user
  // row holds anyway (given by an admin) count only while the provider asserts them.
  const sessionGrant = (held: FullGrantLike): SessionAsk => ({
    grant: {
      audiences: held.audiences,
      scopes: held.scopes,
      roles: [...new Set([...held.roles.filter((role) => !managed.has(role) || asserted.has(role) || provider.grant.roles.includes(role)), ...assertedRoles])],
    },
    assertedRoles,
  })
  if (input.linkedUser) return { kind: 'linked', userId: input.linkedUser.id, ...sessionGrant(input.linkedUser.grant) }
  if (provider.link_by_email && claims.emailVerified && input.userWithEmail) {
    const refusal = emailLinkRefusal(input.userWithEmail, provider, input.issuer)
    if (refusal) return { kind: 'refused', reason: refusal }
    return { kind: 'link_existing', userId: input.userWithEmail.id, ...sessionGrant(input.userWithEmail.grant) }
  }
  if (provider.require_existing_user) return { kind: 'refused', reason: 'no portcullis user is linked to this identity' }
  return { kind: 'create', usernameBase: usernameBase(provider, claims), userGrant: provider.grant, ...sessionGrant(provider.grant) }
}

/**
 * Linking by email trusts the provider's `email_verified` with a whole account, so it is kept to
 * accounts nobody else vouches for: not one with a password (its owner signs in with it), not a
 * console admin, not one that has an identity from this issuer already (another person there),
 * and not one another provider created (that provider's person).
 */
function emailLinkRefusal(user: EmailLinkCandidate, provider: IdentityProvider, issuer: string): string | undefined {
  const reason = (why: string) => `a user with this email exists and ${why}; an administrator must link it`
  if (user.hasPassword) return reason('has a password')
  if (user.grant.roles.includes(ADMIN_ROLE)) return reason('is an administrator')
  if (user.linkedIssuers.includes(issuer)) return reason('is linked to another identity at this provider')
  if (user.createdByProvider !== null && user.createdByProvider !== provider.id) return reason('was created by another provider')
  return undefined
}

/** Usernames stay path-safe (the admin API puts them in URLs) and at most 200 characters. */
function sanitizeUsername(raw: string): string {
  return raw.replace(/[^A-Za-z0-9._@+-]/g, '-').slice(0, 180)
}

/**
 * A verified email, else the provider's preferred_username prefixed with the provider id (so it
 * cannot pose as a local account), else provider id + subject. An unverified email is never used:
 * it could claim someone else's address.
 */
function usernameBase(provider: IdentityProvider, claims: ProviderClaims): string {
  if (claims.email && claims.emailVerified) return sanitizeUsername(claims.email)
  if (claims.preferredUsername) return sanitizeUsername(`${provider.id}.${claims.preferredUsername}`)
  return sanitizeUsername(`${provider.id}.${claims.sub}`)
}

/** The n-th username to try for a new user: `base`, `base-2`, `base-3`, … */
export function usernameCandidate(base: string, attempt: number): string {
  return attempt === 0 ? base : `${base}-${attempt + 1}`
}
