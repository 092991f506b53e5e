import { describe, expect, it } from 'vitest'
import { authenticateClient, implicitClientAllowed, type AuthenticatedClient } from '../../../central/clients/authenticate-client'
import { findClientRegistration } from '../../../central/clients/store'
import { clientRequiresDpop, requireClientGrant } from '../../../central/clients/token-request-client'
import { parseRefreshToken, sha256RefreshToken, successorRefreshToken } from '../../../central/sessions/refresh-token'
import { refreshSessionRow } from '../../../central/sessions/store'
import { useCentralTestApp } from '../../support/central-app'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp()

/** A registration as the admin API would leave it; `undefined` leaves the id unregistered. */
interface Registration {
  method: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'
  grantTypes?: string[]
  enabled?: boolean
  requireDpop?: boolean
  deleted?: boolean
}

type CaseOptions = { requireRegistered?: boolean; dpopJkt?: string; clientId?: string }

const cases: [string, Registration | undefined, CaseOptions][] = [
  ['an unregistered id, implicit clients allowed', undefined, {}],
  ['an unregistered id, REQUIRE_REGISTERED_CLIENTS', undefined, { requireRegistered: true }],
  ['a public client allowed refresh_token', { method: 'none' }, {}],
  ['a public client, REQUIRE_REGISTERED_CLIENTS', { method: 'none' }, { requireRegistered: true }],
  ['a disabled public client', { method: 'none', enabled: false }, {}],
  ['a deleted public client (its id never becomes implicit)', { method: 'none', enabled: false, deleted: true }, {}],
  ['a public client not allowed refresh_token', { method: 'none', grantTypes: ['password'] }, {}],
  ['a public client that must use DPoP, without a proof', { method: 'none', requireDpop: true }, {}],
  ['a public client that must use DPoP, with a proof', { method: 'none', requireDpop: true }, { dpopJkt: 'proof-key-thumbprint' }],
  ['a confidential client (secret) sending no credentials', { method: 'client_secret_basic' }, {}],
  ['a confidential client (private_key_jwt) sending no credentials', { method: 'private_key_jwt' }, {}],
  ['a confidential client (client_secret_post) sending no credentials', { method: 'client_secret_post' }, {}],
  ['a disabled confidential client sending no credentials', { method: 'client_secret_basic', enabled: false }, {}],
  ['a deleted client, REQUIRE_REGISTERED_CLIENTS', { method: 'none', enabled: false, deleted: true }, { requireRegistered: true }],
  ['a public client that must use DPoP and may not refresh, with a proof', { method: 'none', requireDpop: true, grantTypes: ['password'] }, { dpopJkt: 'proof-key-thumbprint' }],
  ['an unregistered UUID-shaped id (never a client id: user ids are UUIDs)', undefined, { clientId: '6f1c1d3e-8a3b-4c5d-9e6f-0a1b2c3d4e5f' }],
  ['an unregistered id outside the client-id alphabet', undefined, { clientId: 'not a client id' }],
]

const clientIdOf = (index: number) => cases[index]![2].clientId ?? `c-${index}`

/**
 * The refresh statement checks a client named without credentials in SQL (RefreshClientCheck),
 * so that a refresh needs no separate lookup. It must rotate exactly when authenticating the client
 * as the token endpoint does, then its grant types and DPoP requirement, would let it refresh.
 */
describe('the refresh statement\'s client check agrees with client authentication', () => {
  it.each(cases)('%s', async (name, registration, { requireRegistered = false, dpopJkt }) => {
    const { sql } = central.db
    const clientId = clientIdOf(cases.findIndex(([n]) => n === name))
    if (registration) await insertClient(clientId, registration)
    const user = await insertTestUser(sql)
    const started = await startTestSession(central.t.deps, { user, actor: 'user', clientId })
    const presented = parseRefreshToken(started.refreshToken, central.t.deps.sessions.chainKey)
    if (presented?.kind !== 'chained') throw new Error('a new session has a chained token')

    const now = central.t.clock()
    const statement = await refreshSessionRow(sql, {
      sessionId: started.sessionId, tokenHash: presented.tokenHash, generation: 0, clientId,
      clientCheck: { kind: 'may-refresh-unauthenticated', implicitAllowed: implicitClientAllowed(clientId, requireRegistered) },
      dpopJkt: dpopJkt ?? null, resource: null, scopes: null,
      successorHash: sha256RefreshToken(successorRefreshToken(central.t.deps.sessions.chainKey, started.refreshToken, Buffer.alloc(16), started.sessionId, 1)), successorSalt: Buffer.alloc(16),
      now, idleUntil: new Date(now.getTime() + 3600_000), ip: null, userAgent: null, recordEvent: false,
    })

    const authentication = await mayRefreshWithoutCredentials(clientId, { requireRegistered, dpopJkt })
    expect(statement.kind === 'rotated').toBe(authentication.ok)
  })

  it('covers both answers', async () => {
    // A table where every case agrees on "refuse" (or "rotate") would prove nothing.
    const answers = await Promise.all(cases.map(([, , options], i) => mayRefreshWithoutCredentials(clientIdOf(i), { requireRegistered: options.requireRegistered ?? false, dpopJkt: options.dpopJkt })))
    expect(new Set(answers.map((a) => a.ok))).toEqual(new Set([true, false]))
  })
})

/** What the token endpoint decides for a refresh that names `clientId` without credentials. */
async function mayRefreshWithoutCredentials(clientId: string, options: { requireRegistered: boolean; dpopJkt?: string }): Promise<{ ok: boolean }> {
  try {
    const client: AuthenticatedClient = await authenticateClient({ kind: 'none', clientId }, await findClientRegistration(central.db.sql, clientId), {
      tokenEndpointUrl: 'http://central.test/oauth/token',
      issuer: 'http://central.test',
      now: central.t.clock(),
      clockToleranceSeconds: 0,
      requireRegisteredClients: options.requireRegistered,
      keySets: central.t.deps.clientKeySets,
      recordAssertionJti: async () => true,
    })
    requireClientGrant(client, 'refresh_token')
    if (clientRequiresDpop(client) && options.dpopJkt === undefined) return { ok: false }
    return { ok: true }
  } catch {
    return { ok: false }
  }
}

async function insertClient(clientId: string, r: Registration): Promise<void> {
  const now = central.t.clock()
  await central.db.sql`
    insert into oauth_clients (client_id, client_type, token_endpoint_auth_method, secret_hash, jwks, grant_types,
                               require_dpop, enabled, created_at, updated_at, deleted_at)
    values (${clientId}, ${r.method === 'none' ? 'public' : 'confidential'}, ${r.method},
            ${r.method === 'client_secret_basic' || r.method === 'client_secret_post' ? Buffer.alloc(32, 1) : null},
            ${r.method === 'private_key_jwt' ? central.db.sql.json({ keys: [] }) : null},
            ${r.grantTypes ?? ['refresh_token', 'password']}, ${r.requireDpop ?? false}, ${r.enabled ?? true}, ${now}, ${now},
            ${r.deleted ? now : null})`
}
