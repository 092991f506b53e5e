import type { PendingQuery, Row, Sql } from 'postgres'
import type { JSONWebKeySet } from 'jose'
import { Conflict, InvalidRequest } from '../../shared/errors'
import type { ReplayGuard } from '../../shared/dpop-proof'
import type { AuditEventInput, AuditEventType } from '../audit/audit-event'
import { recordAuditEvent } from '../audit/store'
import type { Clock } from '../clock'
import type { Queryable } from '../db/pool'
import { revokeClientSessions } from '../sessions/store'
import { SECRET_AUTH_METHODS, type ClientGrantType, type ClientNotBefore, type ClientRecord, type ClientRegistration, type ClientType, type TokenEndpointAuthMethod } from './client-record'
import { applyClientPatch, type ClientPatch, type NewClient } from './client-schema'
import { generateClientSecret, hashClientSecret } from './client-secret'

interface ClientRow {
  client_id: string
  client_type: ClientType
  token_endpoint_auth_method: TokenEndpointAuthMethod
  secret_hash: Buffer | null
  secret_rotated_at: Date | null
  jwks: JSONWebKeySet | null
  jwks_uri: string | null
  grant_types: ClientGrantType[]
  audiences: string[]
  scopes: string[]
  roles: string[]
  access_token_ttl_seconds: number | null
  require_dpop: boolean
  enabled: boolean
  not_before: Date | null
  created_at: Date
  updated_at: Date
}

const clientColumns = [
  'client_id', 'client_type', 'token_endpoint_auth_method', 'secret_hash', 'secret_rotated_at', 'jwks', 'jwks_uri',
  'grant_types', 'audiences', 'scopes', 'roles', 'access_token_ttl_seconds', 'require_dpop', 'enabled', 'not_before',
  'created_at', 'updated_at',
]

function toClientRecord(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    type: row.client_type,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    secretHash: row.secret_hash,
    secretRotatedAt: row.secret_rotated_at,
    jwks: row.jwks,
    jwksUri: row.jwks_uri,
    grantTypes: row.grant_types,
    audiences: row.audiences,
    scopes: row.scopes,
    roles: row.roles,
    accessTokenTtlSeconds: row.access_token_ttl_seconds,
    requireDpop: row.require_dpop,
    enabled: row.enabled,
    notBefore: row.not_before,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** Audit event types of the client registry. */
export type ClientAuditEventType = Extract<AuditEventType, `client.${string}`>

/** A client event; `details.client_id` names the client (the audit table's ids are for users and sessions). */
function clientEvent(type: ClientAuditEventType, input: { clientId: string; actor: string; now: Date; details?: Record<string, unknown> }): AuditEventInput {
  return { type, at: input.now, actor: input.actor, details: { client_id: input.clientId, ...input.details } }
}

/** The grant and settings an audit row records about a client: never the secret or its hash. */
function auditedSettings(client: ClientRecord): Record<string, unknown> {
  return {
    grant_types: client.grantTypes,
    audiences: client.audiences,
    scopes: client.scopes,
    roles: client.roles,
    access_token_ttl_seconds: client.accessTokenTtlSeconds,
    require_dpop: client.requireDpop,
    enabled: client.enabled,
    keys: client.jwksUri ?? (client.jwks ? `${client.jwks.keys.length} inline` : null),
  }
}

// --- Registry -----------------------------------------------------------------------------

/**
 * Registers a client and writes `client.created`, in one transaction. For a secret method the
 * secret is generated here and returned this once; only its hash is stored. Throws `Conflict`
 * when the id is taken, including by a deleted client whose tokens may still be alive.
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1
 */
export async function createClient(
  sql: Sql,
  input: NewClient & { actor: string; now: Date },
): Promise<{ client: ClientRecord; secret: string | null }> {
  const secret = SECRET_AUTH_METHODS.includes(input.tokenEndpointAuthMethod) ? generateClientSecret() : null
  const { now } = input
  return await sql.begin(async (tx) => {
    const [row]: [ClientRow?] = await tx`
      insert into oauth_clients (client_id, client_type, token_endpoint_auth_method, secret_hash, secret_rotated_at, jwks, jwks_uri,
        grant_types, audiences, scopes, roles, access_token_ttl_seconds, require_dpop, enabled, created_at, updated_at)
      values (${input.clientId}, ${input.type}, ${input.tokenEndpointAuthMethod}, ${secret === null ? null : hashClientSecret(secret)},
        ${secret === null ? null : now}, ${input.jwks === null ? null : tx.json(input.jwks as never)}, ${input.jwksUri},
        ${input.grantTypes}, ${input.audiences}, ${input.scopes}, ${input.roles}, ${input.accessTokenTtlSeconds},
        ${input.requireDpop}, ${input.enabled}, ${now}, ${now})
      on conflict (client_id) do update set
        client_type = excluded.client_type, token_endpoint_auth_method = excluded.token_endpoint_auth_method,
        secret_hash = excluded.secret_hash, secret_rotated_at = excluded.secret_rotated_at, jwks = excluded.jwks,
        jwks_uri = excluded.jwks_uri, grant_types = excluded.grant_types, audiences = excluded.audiences,
        scopes = excluded.scopes, roles = excluded.roles, access_token_ttl_seconds = excluded.access_token_ttl_seconds,
        require_dpop = excluded.require_dpop, enabled = excluded.enabled, not_before = null,
        created_at = excluded.created_at, updated_at = excluded.updated_at, deleted_at = null
      -- Only a purged tombstone (see purgeDeletedClients) is taken over: its tokens have all expired.
      where oauth_clients.deleted_at is not null and oauth_clients.not_before is null
      returning ${tx(clientColumns)}`
    if (!row) throw new Conflict('client_id is already taken (a deleted client keeps its id until its tokens have expired)')
    const client = toClientRecord(row)
    await recordAuditEvent(tx, clientEvent('client.created', { ...input, details: { type: client.type, token_endpoint_auth_method: client.tokenEndpointAuthMethod, ...auditedSettings(client) } }))
    return { client, secret }
  })
}

/**
 * What the registry holds under this id for authentication: the live client, `'deleted'` for a
 * deleted one (also after the purge, which keeps a tombstone), or undefined when never registered.
 */
export async function findClientRegistration(sql: Queryable, clientId: string): Promise<ClientRegistration> {
  const [row]: [(ClientRow & { deleted: boolean })?] = await sql`
    select ${sql(clientColumns)}, deleted_at is not null as deleted from oauth_clients where client_id = ${clientId}`
  if (!row) return undefined
  return row.deleted ? 'deleted' : toClientRecord(row)
}

/** The registered (not deleted) client with this id, or undefined. */
export async function findClient(sql: Queryable, clientId: string): Promise<ClientRecord | undefined> {
  const [row]: [ClientRow?] = await sql`
    select ${sql(clientColumns)} from oauth_clients where client_id = ${clientId} and deleted_at is null`
  return row && toClientRecord(row)
}

export async function listClients(sql: Queryable): Promise<ClientRecord[]> {
  const rows = await sql<ClientRow[]>`
    select ${sql(clientColumns)} from oauth_clients where deleted_at is null order by client_id`
  return rows.map(toClientRecord)
}

/**
 * Whether a change takes something away that live tokens may carry: an audience, scope or role
 * removed, DPoP newly required, the client disabled. Those tokens then die at the edge (the
 * client's not-before marker moves), as a user's do when their grant narrows.
 */
export function narrowsClient(before: ClientRecord, after: ClientRecord): boolean {
  const lost = (held: string[], now: string[]) => held.some((item) => !now.includes(item))
  return (
    lost(before.audiences, after.audiences) ||
    lost(before.scopes, after.scopes) ||
    lost(before.roles, after.roles) ||
    lost(before.grantTypes, after.grantTypes) ||
    (!before.requireDpop && after.requireDpop) ||
    (before.enabled && !after.enabled) ||
    removesKeys(before, after)
  )
}

/**
 * Whether a `private_key_jwt` key the client could sign assertions with is gone: an inline key
 * dropped, or the key set URL changed or removed (what the old URL served is unknown). A key is
 * removed because it leaked, so tokens obtained with it must die too.
 */
function removesKeys(before: ClientRecord, after: ClientRecord): boolean {
  if (before.jwksUri !== null && before.jwksUri !== after.jwksUri) return true
  if (!before.jwks) return false
  const kept = new Set((after.jwks?.keys ?? []).map((key) => JSON.stringify(canonicalJwk(key as Record<string, unknown>))))
  return before.jwks.keys.some((key) => !kept.has(JSON.stringify(canonicalJwk(key as Record<string, unknown>))))
}

/** A JWK with its members in a fixed order, so two spellings of one key compare equal. */
function canonicalJwk(jwk: Record<string, unknown>): [string, unknown][] {
  return Object.entries(jwk).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/**
 * A client's not-before marker: the next whole second after the later of `now` and the clock read
 * after the client's row lock. A token endpoint signs a client's token before it checks the row
 * under a share lock (`lockClientForIssue`), so every token that passes the check with the old
 * registration has `iat` at or before that reading; JWT `iat` is whole seconds and the edge drops
 * `iat < not_before`, so the next second puts all of them below the marker.
 */
function markerAfterLock(now: Date, clock: Clock | undefined): Date {
  const lockedAt = Math.max(now.getTime(), (clock ?? (() => now))().getTime())
  return new Date((Math.floor(lockedAt / 1000) + 1) * 1000)
}

/**
 * The SET expression that moves a client's not-before marker to `marker`, and always past the
 * marker it had: tokens minted after the previous change carry `iat` raised to that marker
 * (clientTokenIssuedAt), so a second change within the same second must still put them below.
 */
function moveNotBefore(tx: Queryable, marker: Date) {
  return tx`not_before = greatest(${marker}::timestamptz, not_before + interval '1 second')`
}

/** Locks the live client's row for a change; undefined when there is none. */
async function lockLiveClient(tx: Queryable, clientId: string): Promise<ClientRow | undefined> {
  const [row]: [ClientRow?] = await tx`
    select ${tx(clientColumns)} from oauth_clients where client_id = ${clientId} and deleted_at is null for update`
  return row
}

/** The change input of the registry's writes: `clock` is read again after the row lock, for the marker. */
interface ClientChangeInput {
  clientId: string
  actor: string
  /** When the change was asked for: audit and `updated_at`. */
  now: Date
  /** The app's clock; absent: `now` (tests that do not race). */
  clock?: Clock
}

/**
 * Applies `patch` to a live client in one transaction: the row is locked, the patch checked
 * against it (`applyClientPatch`), the not-before marker moved when the change narrows the client,
 * and `client.updated` (plus `client.disabled`/`client.enabled`) written. Undefined when there is
 * no such client.
 */
export async function updateClient(
  sql: Sql,
  input: ClientChangeInput & { patch: ClientPatch },
): Promise<ClientRecord | undefined> {
  const { clientId, actor, now } = input
  return await sql.begin(async (tx) => {
    const row = await lockLiveClient(tx, clientId)
    if (!row) return undefined
    const before = toClientRecord(row)
    const after = applyClientPatch(before, input.patch)
    const narrowed = narrowsClient(before, after)
    const marker = markerAfterLock(now, input.clock)
    const [updated]: [ClientRow?] = await tx`
      update oauth_clients set
        jwks = ${after.jwks === null ? null : tx.json(after.jwks as never)}, jwks_uri = ${after.jwksUri},
        grant_types = ${after.grantTypes}, audiences = ${after.audiences}, scopes = ${after.scopes}, roles = ${after.roles},
        access_token_ttl_seconds = ${after.accessTokenTtlSeconds}, require_dpop = ${after.requireDpop}, enabled = ${after.enabled},
        ${narrowed ? tx`${moveNotBefore(tx, marker)},` : tx``}
        updated_at = ${now}
      where client_id = ${clientId}
      returning ${tx(clientColumns)}`
    if (!updated) throw new Error('locked client row vanished')
    const client = toClientRecord(updated)
    const changed = Object.keys(input.patch).filter((name) => input.patch[name as keyof ClientPatch] !== undefined)
    await recordAuditEvent(tx, clientEvent('client.updated', { clientId, actor, now, details: { changed, tokens_revoked: narrowed, ...auditedSettings(client) } }))
    if (before.enabled !== client.enabled) {
      await recordAuditEvent(tx, clientEvent(client.enabled ? 'client.enabled' : 'client.disabled', { clientId, actor, now }))
    }
    // Disabled: the sessions people started through it end too, so enabling it again revives none.
    if (before.enabled && !client.enabled) await revokeClientSessions(tx, { clientId, actor, reason: 'client disabled', now })
    return client
  })
}

/**
 * Disables a client: it can no longer authenticate, its access tokens die at the edge through the
 * revocation feed (the not-before marker moves), and the sessions started through it are revoked.
 * Undefined when there is no such client.
 */
export async function disableClient(sql: Sql, input: ClientChangeInput): Promise<ClientRecord | undefined> {
  return await updateClient(sql, { ...input, patch: { enabled: false } })
}

/**
 * Replaces the client's secret: the old one stops working at once, the access tokens issued
 * before die at the edge (a rotation usually means the old secret leaked), and the new secret is
 * returned this once. `InvalidRequest` for a client that does not authenticate with a secret.
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-2
 */
export async function rotateClientSecret(
  sql: Sql,
  input: ClientChangeInput,
): Promise<{ client: ClientRecord; secret: string } | undefined> {
  const { clientId, actor, now } = input
  const secret = generateClientSecret()
  return await sql.begin(async (tx) => {
    const locked = await lockLiveClient(tx, clientId)
    if (!locked) return undefined
    if (!SECRET_AUTH_METHODS.includes(locked.token_endpoint_auth_method)) throw new InvalidRequest('this client does not authenticate with a secret')
    const marker = markerAfterLock(now, input.clock)
    const [row]: [ClientRow?] = await tx`
      update oauth_clients set secret_hash = ${hashClientSecret(secret)}, secret_rotated_at = ${now},
        ${moveNotBefore(tx, marker)}, updated_at = ${now}
      where client_id = ${clientId}
      returning ${tx(clientColumns)}`
    if (!row) throw new Error('locked client row vanished')
    await recordAuditEvent(tx, clientEvent('client.secret_rotated', { clientId, actor, now, details: { tokens_revoked: true } }))
    return { client: toClientRecord(row), secret }
  })
}

/**
 * Ends every access token the client holds now (the not-before marker moves; RFC 7009 revocation
 * of a client-credentials token, which has no session to end). False when there is no such client.
 */
export async function revokeClientTokens(sql: Sql, input: ClientChangeInput): Promise<boolean> {
  const { clientId, actor, now } = input
  return await sql.begin(async (tx) => {
    if (!(await lockLiveClient(tx, clientId))) return false
    const marker = markerAfterLock(now, input.clock)
    await tx`update oauth_clients set ${moveNotBefore(tx, marker)}, updated_at = ${now} where client_id = ${clientId}`
    await recordAuditEvent(tx, clientEvent('client.tokens_revoked', { clientId, actor, now, details: { tokens_revoked: true } }))
    return true
  })
}

/**
 * Deletes a client as far as anyone can tell: it stops authenticating, disappears from lists, its
 * tokens die at the edge and the sessions started through it are revoked, in one transaction. The
 * row stays (disabled) so the revocation feed keeps its marker until its last token has expired,
 * and after that as a tombstone (`purgeDeletedClients`): the id never becomes an implicit client.
 */
export async function deleteClient(sql: Sql, input: ClientChangeInput): Promise<boolean> {
  const { clientId, actor, now } = input
  return await sql.begin(async (tx) => {
    if (!(await lockLiveClient(tx, clientId))) return false
    const marker = markerAfterLock(now, input.clock)
    await tx`
      update oauth_clients set enabled = false, deleted_at = ${now}, ${moveNotBefore(tx, marker)}, updated_at = ${now}
      where client_id = ${clientId}`
    await recordAuditEvent(tx, clientEvent('client.deleted', { clientId, actor, now, details: { tokens_revoked: true } }))
    await revokeClientSessions(tx, { clientId, actor, reason: 'client deleted', now })
    return true
  })
}

/**
 * Reduces clients deleted before `before` (pass now less the feed window) to tombstones and drops
 * their assertion ids: keys, secret, grant and marker go (the feed no longer needs it), the id
 * stays, so it still answers `invalid_client` rather than passing as an implicit client. An admin
 * may register the id again (`createClient` takes a tombstone over). Returns the clients reduced.
 */
export async function purgeDeletedClients(sql: Queryable, before: Date): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    with purged as (
      update oauth_clients set client_type = 'public', token_endpoint_auth_method = 'none', secret_hash = null,
        secret_rotated_at = null, jwks = null, jwks_uri = null, grant_types = '{}', audiences = '{}', scopes = '{}',
        roles = '{}', access_token_ttl_seconds = null, require_dpop = false, not_before = null
      where deleted_at < ${before} and not_before is not null
      returning client_id),
      jtis as (delete from client_assertion_jtis where client_id in (select client_id from purged))
    select count(*)::int as n from purged`
  return row!.n
}

export interface ClientIssueState {
  enabled: boolean
  deleted: boolean
  notBefore: Date | null
}

/**
 * Reads the client's row under a share lock, for a token endpoint that has just signed a token for
 * it: a disable, secret rotation, narrowing or delete in flight commits first and is read here;
 * one that comes later takes its marker after this read (`markerAfterLock`), so the token cannot
 * outlive the change. Undefined when the row is gone.
 */
export async function lockClientForIssue(tx: Queryable, clientId: string): Promise<ClientIssueState | undefined> {
  const [row]: [{ enabled: boolean; deleted: boolean; not_before: Date | null }?] = await tx`
    select enabled, deleted_at is not null as deleted, not_before from oauth_clients where client_id = ${clientId} for share`
  return row && { enabled: row.enabled, deleted: row.deleted, notBefore: row.not_before }
}

// --- Revocation feed ----------------------------------------------------------------------

/**
 * Clients whose tokens issued before a marker are dead: disabled, deleted, secret rotated or
 * grant narrowed after `since`. The feed lists them beside the users' markers.
 */
export async function findClientNotBeforesSince(sql: Queryable, since: Date): Promise<ClientNotBefore[]> {
  const rows = await sql<{ client_id: string; not_before: Date }[]>`
    select client_id, not_before from oauth_clients where not_before > ${since} order by not_before, client_id`
  return rows.map((row) => ({ clientId: row.client_id, notBefore: row.not_before }))
}

/**
 * The clients' part of the feed's version as a subquery, for the feed's one aggregate statement
 * (`findRevocationsVersionInputs`): count, bounds and the sum of the markers, so a marker moving
 * forward while listed changes the version too.
 */
export function clientRevocationsVersionInputs(sql: Queryable, since: Date): PendingQuery<Row[]> {
  return sql`(select concat_ws(',', count(*), min(not_before), max(not_before), sum(extract(epoch from not_before)))
    from oauth_clients where not_before > ${since})`
}

// --- Replay checks ------------------------------------------------------------------------

/**
 * Records a client assertion's `jti`; false when this client used it before. The primary key
 * settles races: of two requests with one assertion, one inserts and the other is refused.
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
export async function recordClientAssertionJti(sql: Queryable, input: { clientId: string; jti: string; expiresAt: Date }): Promise<boolean> {
  const rows = await sql`
    insert into client_assertion_jtis (client_id, jti, expires_at) values (${input.clientId}, ${input.jti}, ${input.expiresAt})
    on conflict do nothing
    returning 1`
  return rows.length === 1
}

/** Records a DPoP proof's key (thumbprint and jti); false when it was seen before. */
export async function recordDpopProofJti(sql: Queryable, input: { proofKey: string; expiresAt: Date }): Promise<boolean> {
  const rows = await sql`
    insert into dpop_proof_jtis (proof_key, expires_at) values (${input.proofKey}, ${input.expiresAt})
    on conflict do nothing
    returning 1`
  return rows.length === 1
}

/**
 * The token endpoint's DPoP replay guard: one table for every central instance, so a proof is
 * accepted once across all of them (RFC 9449 §11.1).
 */
export function dpopProofReplayGuard(sql: Queryable): ReplayGuard {
  return { seen: async (proofKey, expiresAt) => !(await recordDpopProofJti(sql, { proofKey, expiresAt })) }
}

/** Drops assertion and proof identifiers that could no longer pass their time checks. */
export async function purgeExpiredReplayEntries(sql: Queryable, now: Date): Promise<void> {
  await sql`delete from client_assertion_jtis where expires_at <= ${now}`
  await sql`delete from dpop_proof_jtis where expires_at <= ${now}`
}

/**
 * The clients' part of the retention purge: assertion and proof identifiers past their window, and
 * deleted clients once their last token has expired (deleted longer ago than the feed's window,
 * so the feed no longer needs their marker). Returns the clients removed.
 */
export async function purgeExpiredClientState(sql: Queryable, input: { now: Date; feedWindowSeconds: number }): Promise<number> {
  await purgeExpiredReplayEntries(sql, input.now)
  return await purgeDeletedClients(sql, new Date(input.now.getTime() - input.feedWindowSeconds * 1000))
}
