/**
 * Every call from federation into the rest of central goes through this file, so a change of
 * those modules' signatures is a change here only. Each adapter names what it calls today.
 */
import type { Context } from 'hono'
import { InvalidCredentials, InvalidGrant } from '../../shared/errors'
import type { AppDeps } from '../app-deps'
import { recordAuditEvent } from '../audit/store'
import { LOCAL_KEY_ENCRYPTION_SECRET, type Config } from '../config'
import type { Queryable } from '../db/pool'
import { refreshSession } from '../sessions/refresh-session'
import { refreshTokenHolder } from '../sessions/refresh-token-holder'
import { startSession } from '../sessions/start-session'
import { findSession, revokeSession } from '../sessions/store'
import type { TokenSet } from '../sessions/token-set'
import { deriveKey, open, seal } from '../tokens/seal'
import { authenticateUser, INVALID_CREDENTIALS } from '../users/authenticate-user'
import { findOrCreateExternalUser, findUserForLinking } from '../users/store'
import { listIdentityLinks } from './store'
import type { EmailLinkCandidate, FullGrantLike } from './decide-identity'

export type FederationDeps = AppDeps
export type { TokenSet }

/** What federation needs from central's configuration, in its own names. */
export interface FederationSettings {
  /** Origin browsers use for /auth/* (the edge's public origin in production); redirect_uri base. */
  publicUrl: string
  /** Absolute return_to URLs may point at these origins (plus publicUrl's). */
  allowedOrigins: string[]
  cookieSecure: boolean
  /** Seals client keys and kept ID tokens (the same secret that seals signing keys). */
  keyEncryptionSecret: string
}

/** Today: ISSUER, ALLOWED_ORIGINS, COOKIE_SECURE, KEY_ENCRYPTION_SECRET. */
export function federationSettingsFrom(config: Config, overrides: Partial<FederationSettings> = {}): FederationSettings {
  const publicUrl = (overrides.publicUrl ?? config.ISSUER).replace(/\/+$/, '')
  return {
    publicUrl,
    allowedOrigins: [...new Set([new URL(publicUrl).origin, new URL(config.ISSUER).origin, ...(overrides.allowedOrigins ?? config.ALLOWED_ORIGINS)])],
    cookieSecure: overrides.cookieSecure ?? config.COOKIE_SECURE,
    keyEncryptionSecret: overrides.keyEncryptionSecret ?? config.KEY_ENCRYPTION_SECRET ?? LOCAL_KEY_ENCRYPTION_SECRET,
  }
}

export type SessionStartOutcome = { kind: 'started'; tokens: TokenSet } | { kind: 'refused' }

/**
 * Calls sessions/start-session `startSession` (its own transaction; audit `session.created`);
 * `recordProviderSession` runs in that transaction, so the session commits with it or not at all.
 */
export async function startFederatedSession(
  deps: FederationDeps,
  input: {
    userId: string
    grant: FullGrantLike
    assertedRoles: string[]
    providerId: string
    ip: string | null
    userAgent: string | null
    recordProviderSession: (tx: Queryable, sessionId: string) => Promise<void>
  },
): Promise<SessionStartOutcome> {
  return await startSession(deps, {
    user: { id: input.userId, ...input.grant },
    method: { kind: 'federated', provider: input.providerId },
    userAgent: input.userAgent,
    ip: input.ip,
    actor: 'user',
    afterInsert: input.recordProviderSession,
    assertedRoles: input.assertedRoles,
  })
}

export type SilentRenewal =
  | { kind: 'rotated'; tokens: TokenSet }
  /** The session is over (revoked, expired, reused) or the token names none: its cookies are dead. */
  | { kind: 'ended' }
  /** Refused though the session lives on (bound to another client or a DPoP key): not ours to end. */
  | { kind: 'refused' }

/**
 * Calls sessions/refresh-session `refreshSession`: the same retry-safe rotation as /oauth/token
 * (a retry within the grace window gets the same successor). On a refusal, sessions/store
 * `findSession` tells whether the session still lives.
 */
export async function rotateRefreshToken(deps: FederationDeps, input: { refreshToken: string; ip: string | null; userAgent: string | null }): Promise<SilentRenewal> {
  try {
    return { kind: 'rotated', tokens: await refreshSession(deps, { refreshToken: input.refreshToken, ip: input.ip, userAgent: input.userAgent }) }
  } catch (error) {
    if (!(error instanceof InvalidGrant)) throw error
  }
  const sessionId = await findSessionIdByRefreshToken(deps, input.refreshToken)
  const session = sessionId === undefined ? undefined : await findSession(deps.sql, sessionId, deps.clock())
  return session?.state === 'active' ? { kind: 'refused' } : { kind: 'ended' }
}

/** Calls sessions/refresh-token-holder `refreshTokenHolder`. */
export async function findSessionIdByRefreshToken(deps: FederationDeps, refreshToken: string): Promise<string | undefined> {
  return (await refreshTokenHolder(deps, refreshToken))?.sessionId
}

/** Calls sessions/store `revokeSession` (inside the caller's transaction when given one): feeds the edge. */
export async function revokeSessionById(sql: Queryable, input: { sessionId: string; actor: string; reason: string; now: Date }): Promise<boolean> {
  return (await revokeSession(sql, input)) === 'revoked'
}

/**
 * Creates a user without a password inside the caller's transaction, with its `user.created`
 * audit event; undefined when the username is taken. Calls users/store
 * `findOrCreateExternalUser` (users/store `createUser` opens its own transaction, and user
 * and link must commit together) and audit/store `recordAuditEvent`.
 */
export async function createUserInTransaction(
  tx: Queryable,
  input: { username: string; grant: FullGrantLike; now: Date; providerId: string; issuer: string; subject: string },
): Promise<string | undefined> {
  const subject = await findOrCreateExternalUser(tx, { username: input.username, grant: input.grant, now: input.now, createdByProvider: input.providerId })
  if (!subject.created) return undefined
  await recordAuditEvent(tx, {
    type: 'user.created',
    at: input.now,
    actor: `provider:${input.providerId}`,
    userId: subject.id,
    details: { username: subject.username, ...input.grant, provider: input.providerId, issuer: input.issuer, subject: input.subject },
  })
  return subject.id
}

/** Calls audit/store `recordAuditEvent` with `user.updated` (an identity linked or unlinked). */
export async function recordIdentityChange(
  tx: Queryable,
  input: { userId: string; actor: string; now: Date; change: 'identity_linked' | 'identity_unlinked'; providerId: string; issuer: string; subject: string },
): Promise<void> {
  await recordAuditEvent(tx, {
    type: 'user.updated',
    at: input.now,
    actor: input.actor,
    userId: input.userId,
    details: { [input.change]: { provider: input.providerId, issuer: input.issuer, subject: input.subject } },
  })
}

/** Calls users/store `findUserForLinking` and federation/store `listIdentityLinks`. */
export async function findUserForEmailLink(sql: Queryable, username: string): Promise<EmailLinkCandidate | undefined> {
  const user = await findUserForLinking(sql, username)
  if (!user) return undefined
  const links = await listIdentityLinks(sql, user.id)
  return { ...user, linkedIssuers: links.map((link) => link.issuer) }
}

/**
 * The hosted page's password form: users/authenticate-user `authenticateUser` (throttled, one
 * answer for every failure), then `startSession` with the verified hash.
 */
export async function signInWithPassword(
  deps: FederationDeps,
  input: { username: string; password: string; ip: string; userAgent: string | null },
): Promise<TokenSet> {
  const user = await authenticateUser(deps.sql, deps.config, { username: input.username, password: input.password, ip: input.ip, now: deps.clock() })
  const result = await startSession(deps, {
    user,
    method: { kind: 'password', verifiedPasswordHash: user.verifiedPasswordHash },
    userAgent: input.userAgent,
    ip: input.ip,
    actor: 'user',
  })
  if (result.kind === 'refused') throw new InvalidCredentials(INVALID_CREDENTIALS)
  return result.tokens
}

/** tokens/seal: AES-256-GCM under a key derived (HKDF) from `material` for one `purpose`. */
export const sealing = {
  key: (material: string, purpose: string) => deriveKey(material, `federation/${purpose}`),
  seal,
  open,
}
