import type { PendingQuery, Row, Sql } from 'postgres'
import type { JSONWebKeySet } from 'jose'
import { Conflict, InvalidRequest } from '../../shared/errors'
import type { ReplayGuard } from '../../shared/dpop-proof'
import type { AuditEventInput, AuditEventType } from '../audit/audit-event'
import { recordAuditEvent } from '../audit/store'
import type { Queryable } from '../db/pool'
import { SECRET_AUTH_METHODS, type ClientGrantType, type ClientRecord, type ClientType, type TokenEndpointAuthMethod } from './client-record'
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
      on conflict (client_id) do nothing
      returning ${tx(clientColumns)}`
    if (!row) throw new Conflict('client_id is already taken (a deleted client keeps its id until its tokens have expired)')
    const client = toClientRecord(row)
    await recordAuditEvent(tx, clientEvent('client.created', { ...input, details: { type: client.type, token_endpoint_auth_method: client.tokenEndpointAuthMethod, ...auditedSettings(client) } }))
    return { client, secret }
  })
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
    (before.enabled && !after.enabled)
  )
}

/**
 * Applies `patch` to a live client in one transaction: the row is locked, the patch checked
 * against it (`applyClientPatch`), the not-before marker moved when the change narrows the client,
 * and `client.updated` (plus `client.disabled`/`client.enabled`) written. Undefined when there is
 * no such client.
 */
export async function updateClient(
  sql: Sql,
  input: { clientId: string; patch: ClientPatch; actor: string; now: Date },
): Promise<ClientRecord | undefined> {
  const { clientId, actor, now } = input
  return await sql.begin(async (tx) => {
    const [row]: [ClientRow?] = await tx`
      select ${tx(clientColumns)} from oauth_clients where client_id = ${clientId} and deleted_at is null for update`
    if (!row) return undefined
    const before = toClientRecord(row)
    const after = applyClientPatch(before, input.patch)
    const narrowed = narrowsClient(before, after)
    const [updated]: [ClientRow?] = await tx`
      update oauth_clients set
        jwks = ${after.jwks === null ? null : tx.json(after.jwks as never)}, jwks_uri = ${after.jwksUri},
        grant_types = ${after.grantTypes}, audiences = ${after.audiences}, scopes = ${after.scopes}, roles = ${after.roles},
        access_token_ttl_seconds = ${after.accessTokenTtlSeconds}, require_dpop = ${after.requireDpop}, enabled = ${after.enabled},
        ${narrowed ? tx`not_before = greatest(not_before, ${now}),` : tx``}
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
    return client
  })
}

/**
 * Disables a client: it can no longer authenticate, and its access tokens die at the edge
 * through the revocation feed (the not-before marker moves). Undefined when there is no such client.
 */
export async function disableClient(sql: Sql, input: { clientId: string; actor: string; now: Date }): Promise<ClientRecord | undefined> {
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
  input: { clientId: string; actor: string; now: Date },
): Promise<{ client: ClientRecord; secret: string } | undefined> {
  const { clientId, actor, now } = input
  const secret = generateClientSecret()
  return await sql.begin(async (tx) => {
    const [row]: [ClientRow?] = await tx`
      update oauth_clients set secret_hash = ${hashClientSecret(secret)}, secret_rotated_at = ${now},
        not_before = greatest(not_before, ${now}), updated_at = ${now}
      where client_id = ${clientId} and deleted_at is null
        and token_endpoint_auth_method in ('client_secret_basic', 'client_secret_post')
      returning ${tx(clientColumns)}`
    if (!row) {
      const exists = await findClient(tx, clientId)
      if (exists) throw new InvalidRequest('this client does not authenticate with a secret')
      return undefined
    }
    await recordAuditEvent(tx, clientEvent('client.secret_rotated', { clientId, actor, now, details: { tokens_revoked: true } }))
    return { client: toClientRecord(row), secret }
  })
}

/**
 * Ends every access token the client holds now (the not-before marker moves; RFC 7009 revocation
 * of a client-credentials token, which has no session to end). False when there is no such client.
 */
export async function revokeClientTokens(sql: Sql, input: { clientId: string; actor: string; now: Date }): Promise<boolean> {
  const { clientId, actor, now } = input
  return await sql.begin(async (tx) => {
    const rows = await tx`
      update oauth_clients set not_before = greatest(not_before, ${now}), updated_at = ${now}
      where client_id = ${clientId} and deleted_at is null
      returning 1`
    if (rows.length === 0) return false
    await recordAuditEvent(tx, clientEvent('client.tokens_revoked', { clientId, actor, now, details: { tokens_revoked: true } }))
    return true
  })
}

/**
 * Deletes a client as far as anyone can tell: it stops authenticating, disappears from lists,
 * and its tokens die at the edge. The row stays (disabled) until `purgeDeletedClients` removes it
 * once its last token has expired, so the revocation feed keeps its marker that long.
 */
export async function deleteClient(sql: Sql, input: { clientId: string; actor: string; now: Date }): Promise<boolean> {
  const { clientId, actor, now } = input
  return await sql.begin(async (tx) => {
    const rows = await tx`
      update oauth_clients set enabled = false, deleted_at = ${now}, not_before = greatest(not_before, ${now}), updated_at = ${now}
      where client_id = ${clientId} and deleted_at is null
      returning 1`
    if (rows.length === 0) return false
    await recordAuditEvent(tx, clientEvent('client.deleted', { clientId, actor, now, details: { tokens_revoked: true } }))
    return true
  })
}

/** Removes clients deleted before `before` (pass now less the feed window) and their assertion ids. */
export async function purgeDeletedClients(sql: Queryable, before: Date): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    with purged as (delete from oauth_clients where deleted_at < ${before} returning client_id),
      jtis as (delete from client_assertion_jtis where client_id in (select client_id from purged))
    select count(*)::int as n from purged`
  return row!.n
}

// --- Revocation feed ----------------------------------------------------------------------

export interface ClientNotBefore {
  clientId: string
  notBefore: Date
}

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
 * (`findRevocationsVersionInputs`); the same inputs as `findClientRevocationsVersionInputs`.
 */
export function clientRevocationsVersionInputs(sql: Queryable, since: Date): PendingQuery<Row[]> {
  return sql`(select concat_ws(',', count(*), min(not_before), max(not_before), sum(extract(epoch from not_before)))
    from oauth_clients where not_before > ${since})`
}

/**
 * The clients' part of the feed's version (see `findRevocationsVersionInputs`): count, bounds and
 * the sum of the markers, so a marker moving forward while listed changes the version too.
 */
export async function findClientRevocationsVersionInputs(sql: Queryable, since: Date): Promise<string> {
  const [row] = await sql<{ inputs: string }[]>`
    select concat_ws(',', count(*), min(not_before), max(not_before), sum(extract(epoch from not_before))) as inputs
    from oauth_clients where not_before > ${since}`
  return row!.inputs
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
