import { decodeJwt } from 'jose'
import { randomBytes, randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { migrateDatabase } from '../../../central/db/migrate'
import { generateRefreshToken, sha256RefreshToken } from '../../../central/sessions/refresh-token'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer, refresh } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'

const MIGRATION = '0006_external_subject_grants_from_sessions.sql'

const central = useCentralTestApp()

type Grant = { audiences: string[]; scopes: string[]; roles: string[] }
type SessionEnd = 'live' | 'revoked' | 'idle-expired' | 'absolute-expired'

/** A user row as findOrCreateExternalUser left it before this release: no password, the grant given. */
async function insertExternalSubject(grant: Grant = { audiences: [], scopes: [], roles: [] }): Promise<string> {
  const [row] = await central.db.sql<{ id: string }[]>`
    insert into users (username, password_hash, audiences, scopes, roles)
    values (${`sso-${randomBytes(4).toString('hex')}@example.test`}, null, ${grant.audiences}, ${grant.scopes}, ${grant.roles})
    returning id`
  return row!.id
}

/** A session row holding `grant`, with its first refresh token's hash; returns that token. */
async function insertSessionHolding(userId: string, grant: Grant, end: SessionEnd = 'live'): Promise<string> {
  const sql = central.db.sql
  const sessionId = randomUUID()
  const refreshToken = generateRefreshToken(central.t.deps.sessions.chainKey, sessionId, 0)
  await sql`
    insert into sessions (id, token_hash, user_id, client_id, audiences, scopes, roles, created_at, last_used_at,
                          idle_expires_at, absolute_expires_at, revoked_at)
    values (${sessionId}, ${sha256RefreshToken(refreshToken)}, ${userId}, 'web', ${grant.audiences}, ${grant.scopes}, ${grant.roles}, now() - interval '1 hour', now() - interval '1 hour',
            now() + ${end === 'idle-expired' ? sql`interval '-1 minute'` : sql`interval '1 hour'`},
            now() + ${end === 'absolute-expired' ? sql`interval '-1 minute'` : sql`interval '1 day'`},
            ${end === 'revoked' ? sql`now()` : null})`
  return refreshToken
}

const grantOf = async (userId: string) =>
  (await central.db.sql<Grant[]>`select audiences, scopes, roles from users where id = ${userId}`)[0]

/** Runs 0006 again on the database as the test left it, the way an upgrade runs it: through migrateDatabase. */
async function upgrade() {
  await central.db.sql`delete from schema_migrations where name = ${MIGRATION}`
  expect(await migrateDatabase(central.db.sql)).toEqual([MIGRATION])
}

describe(`migration ${MIGRATION}`, () => {
  it("gives a password-less subject its live sessions' grants, so a session keeps its grant across the next refresh", async () => {
    const userId = await insertExternalSubject()
    const sessionGrant = { audiences: ['https://api.example.test'], scopes: ['read', 'write'], roles: ['staff'] }
    const refreshToken = await insertSessionHolding(userId, sessionGrant)

    await upgrade()

    expect(await grantOf(userId)).toEqual(sessionGrant)
    const response = await refresh(central.t, refreshToken)
    expect(response.status).toBe(200)
    const claims = decodeJwt(((await response.json()) as { access_token: string }).access_token)
    expect(claims).toMatchObject({ aud: ['https://api.example.test'], scope: 'read write', roles: ['staff'] })
    const [event] = await central.db.sql`select actor, details from audit_events where user_id = ${userId} and event_type = 'user.updated'`
    expect(event).toMatchObject({ actor: 'system', details: { audiences: sessionGrant.audiences, scopes: sessionGrant.scopes, roles: sessionGrant.roles } })
  })

  it('keeps the user\'s own grant first and adds what any live session holds, once each', async () => {
    const userId = await insertExternalSubject({ audiences: ['api'], scopes: ['read'], roles: [] })
    await insertSessionHolding(userId, { audiences: ['billing', 'api'], scopes: ['write'], roles: [] })
    await insertSessionHolding(userId, { audiences: ['api', 'admin-api'], scopes: ['read', 'write'], roles: ['viewer'] })

    await upgrade()

    expect(await grantOf(userId)).toEqual({ audiences: ['api', 'admin-api', 'billing'], scopes: ['read', 'write'], roles: ['viewer'] })
    // POST /admin/sessions starts sessions for the subject again instead of invalid_target.
    const started = await central.t.app.request('/admin/sessions', {
      method: 'POST',
      headers: { ...bearer(TEST_ADMIN_TOKEN), 'Content-Type': 'application/json' },
      body: JSON.stringify({ subject: (await central.db.sql`select username from users where id = ${userId}`)[0]!.username, audiences: ['billing'], scopes: ['write'] }),
    })
    expect(started.status).toBe(200)
  })

  it.each<SessionEnd>(['revoked', 'idle-expired', 'absolute-expired'])('grants nothing from a session that is %s', async (end) => {
    const userId = await insertExternalSubject()
    await insertSessionHolding(userId, { audiences: ['api'], scopes: ['read'], roles: ['staff'] }, end)
    await upgrade()
    expect(await grantOf(userId)).toEqual({ audiences: [], scopes: [], roles: [] })
  })

  it('takes nothing from a session older than the user\'s latest change, so a role an admin removed before the upgrade stays removed', async () => {
    const sql = central.db.sql
    const userId = await insertExternalSubject({ audiences: ['api'], scopes: ['read'], roles: ['staff'] })
    // Before this release: the session started holding staff, then PATCH roles: [] left it as it was.
    await insertSessionHolding(userId, { audiences: ['api'], scopes: ['read'], roles: ['staff'] })
    await sql`update users set roles = '{}' where id = ${userId}`
    await sql`insert into audit_events (at, event_type, user_id, actor, details)
              values (now() - interval '30 minutes', 'user.updated', ${userId}, 'admin:api', '{"changed":["roles"],"roles":[]}')`
    // A session started after that change held only what the user held then, and still counts.
    await sql`
      insert into sessions (user_id, client_id, audiences, scopes, roles, created_at, last_used_at, idle_expires_at, absolute_expires_at)
      values (${userId}, 'web', '{api,billing}', '{read}', '{}', now() - interval '10 minutes', now(), now() + interval '1 hour', now() + interval '1 day')`

    await upgrade()

    expect(await grantOf(userId)).toEqual({ audiences: ['api', 'billing'], scopes: ['read'], roles: [] })
  })

  it('leaves users with a password as they are, whatever their sessions hold', async () => {
    const user = await insertTestUser(central.db.sql, { password: 'correct horse battery staple', audiences: ['api'], scopes: ['read'], roles: [] })
    await insertSessionHolding(user.id, { audiences: ['api', 'billing'], scopes: ['read', 'write'], roles: ['staff'] })
    await upgrade()
    expect(await grantOf(user.id)).toEqual({ audiences: ['api'], scopes: ['read'], roles: [] })
  })
})
