import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listAuditEvents } from '../../../central/audit/store'
import { clientSecretMatches } from '../../../central/clients/client-secret'
import { toClientFeedEntries } from '../../../central/clients/client-feed-entries'
import { CreateClientBodySchema, toNewClient, UpdateClientBodySchema, toClientPatch, type CreateClientBody } from '../../../central/clients/client-schema'
import {
  clientRevocationsVersionInputs,
  createClient,
  deleteClient,
  disableClient,
  dpopProofReplayGuard,
  findClient,
  findClientNotBeforesSince,
  listClients,
  purgeDeletedClients,
  purgeExpiredClientState,
  purgeExpiredReplayEntries,
  recordClientAssertionJti,
  rotateClientSecret,
  updateClient,
} from '../../../central/clients/store'
import { Conflict, InvalidRequest } from '../../../shared/errors'
import { createTestDatabase, type TestDatabase } from '../../support/database'

let db: TestDatabase
const now = new Date('2030-03-01T00:00:00Z')
const later = (seconds: number) => new Date(now.getTime() + seconds * 1000)

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

function body(input: Record<string, unknown>): CreateClientBody {
  return CreateClientBodySchema.parse({ grant_types: ['client_credentials'], audiences: ['orders'], scopes: ['orders:read'], ...input })
}

const create = (input: Record<string, unknown>, at = now) => createClient(db.sql, { ...toNewClient(body(input)), actor: 'admin:ops', now: at })

/** The clients' subquery of the feed version, run on its own. */
async function versionInputs(since: Date): Promise<string> {
  const [row] = await db.sql<{ inputs: string }[]>`select ${clientRevocationsVersionInputs(db.sql, since)} as inputs`
  return row!.inputs
}

async function clientEvents(clientId: string) {
  const events = await listAuditEvents(db.sql, { limit: 500 })
  return events.filter((event) => event.details.client_id === clientId).reverse()
}

describe('client registry', () => {
  it('creates a secret client, returns the secret once and stores only its hash', async () => {
    const { client, secret } = await create({ client_id: 'billing', token_endpoint_auth_method: 'client_secret_basic' })
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(client).toMatchObject({ clientId: 'billing', type: 'confidential', enabled: true, notBefore: null, grantTypes: ['client_credentials'] })
    const [row] = await db.sql<{ secret_hash: Buffer }[]>`select secret_hash from oauth_clients where client_id = 'billing'`
    expect(row!.secret_hash).toHaveLength(32)
    expect(row!.secret_hash.toString('utf8')).not.toContain(secret!)
    expect(row!.secret_hash.toString('base64url')).not.toBe(secret)
    expect(clientSecretMatches(row!.secret_hash, secret!)).toBe(true)
    const [event] = await clientEvents('billing')
    expect(event).toMatchObject({ type: 'client.created', actor: 'admin:ops' })
    expect(JSON.stringify(event!.details)).not.toContain(secret!)
  })

  it('refuses a second client with the same id', async () => {
    await create({ client_id: 'twice', token_endpoint_auth_method: 'client_secret_post' })
    await expect(create({ client_id: 'twice', token_endpoint_auth_method: 'client_secret_post' })).rejects.toBeInstanceOf(Conflict)
  })

  it('creates a private_key_jwt client with inline keys and no secret', async () => {
    const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] }
    const { client, secret } = await create({ client_id: 'jobs', token_endpoint_auth_method: 'private_key_jwt', jwks })
    expect(secret).toBeNull()
    expect(client.jwks).toEqual(jwks)
    expect(await findClient(db.sql, 'jobs')).toEqual(client)
  })

  it('finds and lists live clients in id order', async () => {
    await create({ client_id: 'list-b', token_endpoint_auth_method: 'client_secret_post' })
    await create({ client_id: 'list-a', token_endpoint_auth_method: 'client_secret_post' })
    const ids = (await listClients(db.sql)).map((c) => c.clientId).filter((id) => id.startsWith('list-'))
    expect(ids).toEqual(['list-a', 'list-b'])
    expect(await findClient(db.sql, 'no-such-client')).toBeUndefined()
  })

  it('rotating a secret invalidates the old one, moves not_before and audits without the secret', async () => {
    const { secret: old } = await create({ client_id: 'rotating', token_endpoint_auth_method: 'client_secret_basic' })
    const rotated = await rotateClientSecret(db.sql, { clientId: 'rotating', actor: 'admin:ops', now: later(60) })
    expect(rotated!.secret).not.toBe(old)
    // The marker is the next whole second: tokens stamped in the rotation's own second die too.
    expect(rotated!.client.notBefore).toEqual(later(61))
    expect(rotated!.client.secretRotatedAt).toEqual(later(60))
    const client = await findClient(db.sql, 'rotating')
    expect(clientSecretMatches(client!.secretHash!, old!)).toBe(false)
    expect(clientSecretMatches(client!.secretHash!, rotated!.secret)).toBe(true)
    const events = await clientEvents('rotating')
    expect(events.map((e) => e.type)).toEqual(['client.created', 'client.secret_rotated'])
    expect(JSON.stringify(events)).not.toContain(rotated!.secret)
  })

  it('refuses to rotate a secret for a client without one', async () => {
    await create({ client_id: 'keyed', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keyed.example.com/jwks.json' })
    await expect(rotateClientSecret(db.sql, { clientId: 'keyed', actor: 'admin:ops', now })).rejects.toBeInstanceOf(InvalidRequest)
    expect(await rotateClientSecret(db.sql, { clientId: 'nobody', actor: 'admin:ops', now })).toBeUndefined()
  })

  it('disabling moves not_before and audits client.updated and client.disabled', async () => {
    await create({ client_id: 'to-disable', token_endpoint_auth_method: 'client_secret_post' })
    const client = await disableClient(db.sql, { clientId: 'to-disable', actor: 'admin:ops', now: later(30) })
    expect(client).toMatchObject({ enabled: false, notBefore: later(31) })
    expect((await clientEvents('to-disable')).map((e) => e.type)).toEqual(['client.created', 'client.updated', 'client.disabled'])
    const enabled = await updateClient(db.sql, { clientId: 'to-disable', patch: { enabled: true }, actor: 'admin:ops', now: later(90) })
    expect(enabled).toMatchObject({ enabled: true, notBefore: later(31) })
    expect((await clientEvents('to-disable')).at(-1)!.type).toBe('client.enabled')
  })

  it('moves not_before when an update narrows the grant, not when it widens it', async () => {
    await create({ client_id: 'narrowing', token_endpoint_auth_method: 'client_secret_post', scopes: ['a', 'b'] })
    const widened = await updateClient(db.sql, { clientId: 'narrowing', patch: toClientPatch(UpdateClientBodySchema.parse({ scopes: ['a', 'b', 'c'] })), actor: 'admin:ops', now: later(10) })
    expect(widened).toMatchObject({ scopes: ['a', 'b', 'c'], notBefore: null })
    const narrowed = await updateClient(db.sql, { clientId: 'narrowing', patch: { scopes: ['a'] }, actor: 'admin:ops', now: later(20) })
    expect(narrowed).toMatchObject({ scopes: ['a'], notBefore: later(21) })
    const dpop = await updateClient(db.sql, { clientId: 'narrowing', patch: { requireDpop: true }, actor: 'admin:ops', now: later(40) })
    expect(dpop!.notBefore).toEqual(later(41))
    const [, , narrowedEvent] = await clientEvents('narrowing')
    expect(narrowedEvent!.details).toMatchObject({ changed: ['scopes'], tokens_revoked: true, scopes: ['a'] })
  })

  it('refuses an update that breaks a rule spanning fields', async () => {
    await create({ client_id: 'secretive', token_endpoint_auth_method: 'client_secret_post' })
    await expect(
      updateClient(db.sql, { clientId: 'secretive', patch: { jwksUri: 'https://x.example.com/jwks' }, actor: 'admin:ops', now }),
    ).rejects.toBeInstanceOf(InvalidRequest)
    expect(await updateClient(db.sql, { clientId: 'nobody', patch: { enabled: false }, actor: 'admin:ops', now })).toBeUndefined()
  })

  it('switches a private_key_jwt client from inline keys to a URL', async () => {
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] }
    await create({ client_id: 'switching', token_endpoint_auth_method: 'private_key_jwt', jwks })
    const client = await updateClient(db.sql, { clientId: 'switching', patch: { jwksUri: 'https://switching.example.com/jwks' }, actor: 'admin:ops', now })
    expect(client).toMatchObject({ jwks: null, jwksUri: 'https://switching.example.com/jwks' })
  })

  it('moves not_before when a signing key of the client is removed, not when one is added', async () => {
    const first = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }
    const second = { kty: 'OKP', crv: 'Ed25519', x: 'IKD8ihtvdRbjtNIhJFIyXmCFCzRGDdmuY8mhKOvf3uA' }
    await create({ client_id: 'keyed-rotation', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [first] } })
    const added = await updateClient(db.sql, { clientId: 'keyed-rotation', patch: { jwks: { keys: [{ x: first.x, crv: 'Ed25519', kty: 'OKP' }, second] } }, actor: 'admin:ops', now: later(10) })
    expect(added!.notBefore).toBeNull()
    const removed = await updateClient(db.sql, { clientId: 'keyed-rotation', patch: { jwks: { keys: [second] } }, actor: 'admin:ops', now: later(20) })
    expect(removed!.notBefore).toEqual(later(21))
    const moved = await updateClient(db.sql, { clientId: 'keyed-rotation', patch: { jwksUri: 'https://keyed.example.com/jwks' }, actor: 'admin:ops', now: later(30) })
    expect(moved!.notBefore).toEqual(later(31))
    const urlChanged = await updateClient(db.sql, { clientId: 'keyed-rotation', patch: { jwksUri: 'https://keyed.example.com/jwks-2' }, actor: 'admin:ops', now: later(40) })
    expect(urlChanged!.notBefore).toEqual(later(41))
  })

  it('deleting hides the client, revokes its tokens, keeps the id reserved, and after the purge a tombstone an admin may register again', async () => {
    await create({ client_id: 'doomed', token_endpoint_auth_method: 'client_secret_post' })
    expect(await deleteClient(db.sql, { clientId: 'doomed', actor: 'admin:ops', now: later(100) })).toBe(true)
    expect(await deleteClient(db.sql, { clientId: 'doomed', actor: 'admin:ops', now: later(101) })).toBe(false)
    expect(await findClient(db.sql, 'doomed')).toBeUndefined()
    expect((await listClients(db.sql)).map((c) => c.clientId)).not.toContain('doomed')
    expect(await findClientNotBeforesSince(db.sql, later(99))).toContainEqual({ clientId: 'doomed', notBefore: later(101) })
    await expect(create({ client_id: 'doomed', token_endpoint_auth_method: 'client_secret_post' })).rejects.toBeInstanceOf(Conflict)
    expect((await clientEvents('doomed')).map((e) => e.type)).toEqual(['client.created', 'client.deleted'])
    expect(await purgeDeletedClients(db.sql, later(100))).toBe(0)
    expect(await purgeDeletedClients(db.sql, later(101))).toBe(1)
    await expect(create({ client_id: 'doomed', token_endpoint_auth_method: 'client_secret_post' }, later(200))).resolves.toBeDefined()
  })

  it('the retention purge keeps a deleted client for the feed window, then reduces it to a tombstone and drops its expired assertion ids', async () => {
    await create({ client_id: 'retired', token_endpoint_auth_method: 'client_secret_post' })
    await deleteClient(db.sql, { clientId: 'retired', actor: 'admin:ops', now: later(300) })
    await recordClientAssertionJti(db.sql, { clientId: 'retired', jti: 'old', expiresAt: later(310) })
    expect(await purgeExpiredClientState(db.sql, { now: later(300 + 900), feedWindowSeconds: 930 })).toBe(0)
    expect(await findClientNotBeforesSince(db.sql, later(299))).toContainEqual({ clientId: 'retired', notBefore: later(301) })
    expect(await purgeExpiredClientState(db.sql, { now: later(300 + 931), feedWindowSeconds: 930 })).toBe(1)
    const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from client_assertion_jtis where client_id = 'retired'`
    expect(left!.n).toBe(0)
  })
})

describe('client revocation markers', () => {
  it('lists markers after `since` in order, and the version inputs change when one moves', async () => {
    const since = later(1_000)
    await create({ client_id: 'feed-a', token_endpoint_auth_method: 'client_secret_post' })
    await create({ client_id: 'feed-b', token_endpoint_auth_method: 'client_secret_post' })
    const before = await versionInputs(since)
    await disableClient(db.sql, { clientId: 'feed-b', actor: 'admin:ops', now: later(1_001) })
    await rotateClientSecret(db.sql, { clientId: 'feed-a', actor: 'admin:ops', now: later(1_002) })
    expect(await findClientNotBeforesSince(db.sql, since)).toEqual([
      { clientId: 'feed-b', notBefore: later(1_002) },
      { clientId: 'feed-a', notBefore: later(1_003) },
    ])
    const listed = await versionInputs(since)
    expect(listed).not.toBe(before)
    await rotateClientSecret(db.sql, { clientId: 'feed-b', actor: 'admin:ops', now: later(1_002.5) })
    expect(await versionInputs(since)).not.toBe(listed)
  })
})

describe('client feed entries', () => {
  it('rounds markers up to the second, so tokens minted earlier in that second are caught', () => {
    expect(toClientFeedEntries([{ clientId: 'a', notBefore: new Date('2030-01-01T00:00:10.200Z') }, { clientId: 'b', notBefore: new Date('2030-01-01T00:00:10.000Z') }])).toEqual([
      { client_id: 'a', not_before: 1_893_456_011 },
      { client_id: 'b', not_before: 1_893_456_010 },
    ])
  })
})

describe('replay records', () => {
  it('accepts a client assertion jti once per client', async () => {
    const expiresAt = later(60)
    expect(await recordClientAssertionJti(db.sql, { clientId: 'jobs', jti: 'j-1', expiresAt })).toBe(true)
    expect(await recordClientAssertionJti(db.sql, { clientId: 'jobs', jti: 'j-1', expiresAt })).toBe(false)
    expect(await recordClientAssertionJti(db.sql, { clientId: 'other', jti: 'j-1', expiresAt })).toBe(true)
  })

  it('lets exactly one of concurrent DPoP proofs with the same key through', async () => {
    const guard = dpopProofReplayGuard(db.sql)
    const results = await Promise.all(Array.from({ length: 8 }, () => guard.seen('jkt:same', later(60))))
    expect(results.filter((seen) => !seen)).toHaveLength(1)
  })

  it('purges entries that could no longer pass their time checks', async () => {
    await recordClientAssertionJti(db.sql, { clientId: 'jobs', jti: 'old', expiresAt: later(1) })
    await purgeExpiredReplayEntries(db.sql, later(2))
    expect(await recordClientAssertionJti(db.sql, { clientId: 'jobs', jti: 'old', expiresAt: later(60) })).toBe(true)
  })
})

describe('client request bodies', () => {
  it.each([
    [{ client_id: 'x', token_endpoint_auth_method: 'private_key_jwt' }, 'jwks'],
    [{ client_id: 'x', token_endpoint_auth_method: 'client_secret_post', jwks_uri: 'https://x.example.com/k' }, 'jwks'],
    [{ client_id: 'x', token_endpoint_auth_method: 'none' }, 'grant_types'],
    [{ client_id: 'x', client_type: 'public', token_endpoint_auth_method: 'client_secret_post' }, 'client_type'],
    [{ client_id: '0b6c5f4e-8f7a-4b8e-9d3c-2a1b0c9d8e7f', token_endpoint_auth_method: 'client_secret_post' }, 'client_id'],
    [{ client_id: 'has space', token_endpoint_auth_method: 'client_secret_post' }, 'client_id'],
    [{ client_id: 'x', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example.com/jwks' }, 'jwks_uri'],
    [{ client_id: 'x', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c' }] } }, 'jwks'],
    [{ client_id: 'x', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'jwks'],
    [{ client_id: 'x', token_endpoint_auth_method: 'client_secret_post', client_secret: 'chosen' }, ''],
  ])('refuses %j (names %s)', (input, path) => {
    const result = CreateClientBodySchema.safeParse({ grant_types: ['client_credentials'], ...input })
    expect(result.success).toBe(false)
    expect(result.error!.issues.map((issue) => String(issue.path[0] ?? ''))).toContain(path)
  })
})
