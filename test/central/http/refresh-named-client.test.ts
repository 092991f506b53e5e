import { describe, expect, it } from 'vitest'
import { useCentralTestApp } from '../../support/central-app'
import { refresh } from '../../support/central-requests'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp({ env: { REFRESH_GRACE_SECONDS: '10' } })

/** Registers a client straight in its table (the admin API would revoke sessions on some changes). */
async function registerClient(clientId: string, method: 'none' | 'client_secret_basic', grantTypes: string[]) {
  const now = central.t.clock()
  await central.db.sql`
    insert into oauth_clients (client_id, client_type, token_endpoint_auth_method, secret_hash, grant_types, created_at, updated_at)
    values (${clientId}, ${method === 'none' ? 'public' : 'confidential'}, ${method}, ${method === 'none' ? null : Buffer.alloc(32, 7)},
            ${grantTypes}, ${now}, ${now})`
}

const sessionRow = async (sessionId: string) =>
  (await central.db.sql<{ token_hash: Buffer; revoked_at: Date | null }[]>`select token_hash, revoked_at from sessions where id = ${sessionId}`)[0]!

/**
 * A refresh that names its client without credentials is checked by the refresh statement, and the
 * client looked up only when that refuses. A client that may not refresh that way gets its own error,
 * and neither its current token nor an older one (which would otherwise be reuse) changes the session.
 */
describe('a refresh naming a client that may not refresh without credentials', () => {
  it('answers a confidential client that sent no secret invalid_client, and its current token stays current', async () => {
    await registerClient('named-confidential', 'client_secret_basic', ['refresh_token'])
    const user = await insertTestUser(central.db.sql)
    const { refreshToken, sessionId } = await startTestSession(central.t.deps, { user, actor: 'user', clientId: 'named-confidential' })
    const before = await sessionRow(sessionId)
    const response = await refresh(central.t, refreshToken, { client_id: 'named-confidential' })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
    expect(await sessionRow(sessionId)).toEqual(before)
  })

  it('answers a public client no longer allowed refresh_token unauthorized_client, and an older token revokes nothing', async () => {
    await registerClient('named-public', 'none', ['refresh_token'])
    const user = await insertTestUser(central.db.sql)
    const { refreshToken: first, sessionId } = await startTestSession(central.t.deps, { user, actor: 'user', clientId: 'named-public' })
    const second = ((await (await refresh(central.t, first, { client_id: 'named-public' })).json()) as { refresh_token: string }).refresh_token
    await central.db.sql`update oauth_clients set grant_types = ${['password']} where client_id = 'named-public'`
    const before = await sessionRow(sessionId)
    // Past the grace window the first token would be reuse, and revoke the session, for a client that may refresh.
    central.t.clock.advance(60)
    for (const token of [first, second]) {
      const response = await refresh(central.t, token, { client_id: 'named-public' })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'unauthorized_client' })
    }
    expect(await sessionRow(sessionId)).toEqual(before)
  })
})
