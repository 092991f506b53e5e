import type { Queryable } from '../db/pool'

// --- Used flow states ------------------------------------------------------------------------

/** Whether a sign-in with this state (SHA-256) has completed already. */
export async function isFlowStateUsed(sql: Queryable, stateHash: Buffer, now: Date): Promise<boolean> {
  const rows = await sql`select 1 from federation_used_states where state_hash = ${stateHash} and expires_at > ${now}`
  return rows.length > 0
}

/**
 * Records a completed sign-in's state until its flow would have expired anyway; false when it
 * was recorded before (a replay). One insert, so of two concurrent callbacks one wins.
 */
export async function recordUsedFlowState(sql: Queryable, input: { stateHash: Buffer; expiresAt: Date; now: Date }): Promise<boolean> {
  await sql`delete from federation_used_states where expires_at <= ${input.now}`
  const rows = await sql`
    insert into federation_used_states (state_hash, expires_at) values (${input.stateHash}, ${input.expiresAt})
    on conflict do nothing returning 1`
  return rows.length === 1
}

// --- Identity links ------------------------------------------------------------------------

export interface LinkedUser {
  id: string
  username: string
  enabled: boolean
  audiences: string[]
  scopes: string[]
  roles: string[]
}

/** The user an (issuer, subject) is linked to, with what they hold now. */
export async function findLinkedUser(sql: Queryable, issuer: string, subject: string): Promise<LinkedUser | undefined> {
  const [row]: [LinkedUser?] = await sql`
    select u.id, u.username, u.enabled, u.audiences, u.scopes, u.roles
    from identity_links l join users u on u.id = l.user_id
    where l.issuer = ${issuer} and l.subject = ${subject}`
  return row
}

export interface NewIdentityLink {
  issuer: string
  subject: string
  userId: string
  providerId: string
  email: string | null
  now: Date
}

/** Links the identity; false when it is linked already (a concurrent first sign-in won). */
export async function insertIdentityLink(sql: Queryable, link: NewIdentityLink): Promise<boolean> {
  const rows = await sql`
    insert into identity_links (issuer, subject, user_id, provider_id, email, created_at, last_used_at)
    values (${link.issuer}, ${link.subject}, ${link.userId}, ${link.providerId}, ${link.email}, ${link.now}, ${link.now})
    on conflict (issuer, subject) do nothing
    returning 1`
  return rows.length === 1
}

export async function touchIdentityLink(sql: Queryable, input: { issuer: string; subject: string; email: string | null; now: Date }): Promise<void> {
  await sql`update identity_links set last_used_at = ${input.now}, email = coalesce(${input.email}, email)
            where issuer = ${input.issuer} and subject = ${input.subject}`
}

export async function deleteIdentityLink(sql: Queryable, input: { issuer: string; subject: string; userId?: string }): Promise<boolean> {
  const rows = await sql`
    delete from identity_links where issuer = ${input.issuer} and subject = ${input.subject}
    ${input.userId === undefined ? sql`` : sql`and user_id = ${input.userId}`}
    returning 1`
  return rows.length === 1
}

export interface LinkedIdentity {
  providerId: string
  issuer: string
  subject: string
  email: string | null
  createdAt: Date
  lastUsedAt: Date
}

export async function listIdentityLinks(sql: Queryable, userId: string): Promise<LinkedIdentity[]> {
  return await sql<LinkedIdentity[]>`
    select provider_id as "providerId", issuer, subject, email, created_at as "createdAt", last_used_at as "lastUsedAt"
    from identity_links where user_id = ${userId} order by created_at`
}

/**
 * Undoes a just-in-time user whose sign-in failed after it was created (the session could not be
 * started): the user, and through `on delete cascade` its link and any session. Only a user
 * without a password, so it can never remove an account someone set up.
 */
export async function deleteJustInTimeUser(sql: Queryable, userId: string): Promise<void> {
  await sql`delete from users where id = ${userId} and password_hash is null`
}

/** Whether the hosted sign-in page should offer the password form. */
export async function anyUserHasPassword(sql: Queryable): Promise<boolean> {
  const [row] = await sql<{ exists: boolean }[]>`select exists (select 1 from users where password_hash is not null and enabled)`
  return row!.exists
}

// --- Sessions from providers ---------------------------------------------------------------

export interface FederatedSession {
  sessionId: string
  providerId: string
  issuer: string
  subject: string
  providerSid: string | null
  idTokenSealed: Buffer | null
}

export async function insertFederatedSession(sql: Queryable, input: FederatedSession & { now: Date }): Promise<void> {
  await sql`
    insert into federated_sessions (session_id, provider_id, issuer, subject, provider_sid, id_token_sealed, created_at)
    values (${input.sessionId}, ${input.providerId}, ${input.issuer}, ${input.subject}, ${input.providerSid}, ${input.idTokenSealed}, ${input.now})`
}

/** Which provider a session came from; undefined for password and admin-started sessions. */
export async function findFederatedSession(sql: Queryable, sessionId: string): Promise<FederatedSession | undefined> {
  const [row]: [FederatedSession?] = await sql`
    select session_id as "sessionId", provider_id as "providerId", issuer, subject, provider_sid as "providerSid",
           id_token_sealed as "idTokenSealed"
    from federated_sessions where session_id = ${sessionId}`
  return row
}

/** The provider of each of these sessions that came from one (for the admin API and console). */
export async function findSessionProviders(sql: Queryable, sessionIds: readonly string[]): Promise<Map<string, string>> {
  if (sessionIds.length === 0) return new Map()
  const rows = await sql<{ session_id: string; provider_id: string }[]>`
    select session_id, provider_id from federated_sessions where session_id in ${sql(sessionIds as string[])}`
  return new Map(rows.map((r) => [r.session_id, r.provider_id]))
}

/**
 * Live sessions a logout token names: those from the provider's session `sid` (also of subject
 * `sub` when the token names both), else every session of `sub` from that issuer.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
 */
export async function findSessionsForLogout(
  sql: Queryable,
  input: { providerId: string; issuer: string; sid?: string; sub?: string },
): Promise<string[]> {
  const { providerId, issuer, sid, sub } = input
  const rows = await sql<{ session_id: string }[]>`
    select f.session_id from federated_sessions f join sessions s on s.id = f.session_id
    where f.provider_id = ${providerId} and f.issuer = ${issuer} and s.revoked_at is null
      ${sid === undefined ? sql`` : sql`and f.provider_sid = ${sid}`}
      ${sub === undefined ? sql`` : sql`and f.subject = ${sub}`}`
  return rows.map((r) => r.session_id)
}

/**
 * Records a logout token's jti; false when it was seen before (a replay). Expired entries go
 * first: a token past them fails its time checks anyway.
 */
export async function recordLogoutTokenJti(sql: Queryable, input: { issuer: string; jti: string; expiresAt: Date; now: Date }): Promise<boolean> {
  await sql`delete from backchannel_logout_jtis where expires_at <= ${input.now}`
  const rows = await sql`
    insert into backchannel_logout_jtis (issuer, jti, expires_at) values (${input.issuer}, ${input.jti}, ${input.expiresAt})
    on conflict do nothing returning 1`
  return rows.length === 1
}

// --- Client keys (private_key_jwt) ---------------------------------------------------------

export interface ClientKeyRow {
  providerId: string
  kid: string
  publicJwk: Record<string, unknown>
  privateJwkSealed: Buffer
}

/** Stores a provider's key unless it has one; returns the one that is stored. */
export async function insertOrFindClientKey(sql: Queryable, key: ClientKeyRow & { now: Date }): Promise<ClientKeyRow> {
  await sql`
    insert into federation_client_keys (provider_id, kid, public_jwk, private_jwk_sealed, created_at)
    values (${key.providerId}, ${key.kid}, ${sql.json(key.publicJwk as never)}, ${key.privateJwkSealed}, ${key.now})
    on conflict (provider_id) do nothing`
  const [row] = await findClientKeys(sql, [key.providerId])
  if (!row) throw new Error('client key vanished after insert')
  return row
}

export async function findClientKeys(sql: Queryable, providerIds: readonly string[]): Promise<ClientKeyRow[]> {
  if (providerIds.length === 0) return []
  return await sql<ClientKeyRow[]>`
    select provider_id as "providerId", kid, public_jwk as "publicJwk", private_jwk_sealed as "privateJwkSealed"
    from federation_client_keys where provider_id in ${sql(providerIds as string[])} order by provider_id`
}
