import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPool } from '../../../central/db/pool'
import { startTestSession } from '../../support/central-sessions'
import { revokeSession } from '../../../central/sessions/store'
import { sha256RefreshToken } from '../../../central/sessions/refresh-token'
import { buildCentralApp, controllableClock, TEST_ISSUER, type CentralTestApp } from '../../support/central-app'
import { refresh } from '../../support/central-requests'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser, type TestUser } from '../../support/users'

let db: TestDatabase
let t: CentralTestApp
let user: TestUser
beforeAll(async () => {
  db = await createTestDatabase()
  t = await buildCentralApp(db.sql, { env: { REFRESH_GRACE_SECONDS: '10', REFRESH_IDLE_TTL_SECONDS: '3600', REFRESH_ABSOLUTE_TTL_SECONDS: '10000' } })
  user = await insertTestUser(db.sql, { audiences: ['https://api.example.test', 'https://billing.example.test'], scopes: ['read', 'write'], roles: ['editor'] })
})
afterAll(() => db.drop())

const signIn = (clientId?: string) => startTestSession(t.deps, { user, clientId, userAgent: 'test-agent', ip: '10.0.0.1', actor: 'user' })

/** The chain state on the session row: the live token's hash and how often the chain rotated. */
async function chainOf(sessionId: string) {
  const [row] = await db.sql<{ token_hash: Buffer; generation: number }[]>`select token_hash, generation from sessions where id = ${sessionId}`
  return row!
}

/** True when `token` is the one live refresh token of the session (one row per chain). */
async function isLiveToken(sessionId: string, token: string) {
  return (await chainOf(sessionId)).token_hash.equals(sha256RefreshToken(token))
}

async function ok(response: Response) {
  expect(response.status).toBe(200)
  return (await response.json()) as { access_token: string; refresh_token: string; expires_in: number; scope: string; token_type: string }
}

describe('POST /oauth/token — rotation', () => {
  it('rotates the refresh token and keeps the session id', async () => {
    const first = await signIn()
    const response = await refresh(t, first.refreshToken)
    expect(response.headers.get('Cache-Control')).toBe('no-store')
    const body = await ok(response)
    expect(body.refresh_token).not.toBe(first.refreshToken)
    expect(body.token_type).toBe('Bearer')
    expect(decodeJwt(body.access_token).sid).toBe(first.sessionId)
    const again = await ok(await refresh(t, body.refresh_token))
    expect(decodeJwt(again.access_token).sid).toBe(first.sessionId)
    expect(await isLiveToken(first.sessionId, again.refresh_token)).toBe(true)
  })

  it('stores refresh tokens only as SHA-256 hashes', async () => {
    const first = await signIn()
    const rows = await db.sql<{ token_hash: Buffer }[]>`select token_hash from sessions where id = ${first.sessionId}`
    expect(rows).toHaveLength(1)
    expect(rows[0]!.token_hash).toHaveLength(32)
    expect(rows[0]!.token_hash.toString('base64url')).not.toBe(first.refreshToken)
    const dump = JSON.stringify(await db.sql`select * from sessions`)
    expect(dump).not.toContain(first.refreshToken)
  })

  it('issues an RFC 9068 access token verifiable with the published JWKS', async () => {
    const first = await signIn()
    const body = await ok(await refresh(t, first.refreshToken))
    const jwks = (await (await t.app.request('/.well-known/jwks.json')).json()) as JSONWebKeySet
    const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), { issuer: TEST_ISSUER, typ: 'at+jwt', currentDate: t.clock() })
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) })
    expect(payload).toMatchObject({
      sub: user.id,
      aud: user.audiences,
      client_id: 'web',
      scope: 'read write',
      sid: first.sessionId,
      roles: ['editor'],
      jti: expect.any(String),
    })
    expect(payload.exp! - payload.iat!).toBe(t.config.ACCESS_TOKEN_TTL_SECONDS)
    expect(payload).not.toHaveProperty('username')
  })
})

describe('POST /oauth/token — retry-safe rotation', () => {
  it('returns the identical successor when the same token is replayed within the grace window', async () => {
    const first = await signIn()
    const a = await ok(await refresh(t, first.refreshToken))
    t.clock.advance(9)
    const b = await ok(await refresh(t, first.refreshToken))
    expect(b.refresh_token).toBe(a.refresh_token)
    expect(decodeJwt(b.access_token).jti).not.toBe(decodeJwt(a.access_token).jti)
    expect(await isLiveToken(first.sessionId, a.refresh_token)).toBe(true)
    await ok(await refresh(t, b.refresh_token))
  })

  it('answers 50 concurrent refreshes with one token all 200 with one identical successor and one live chain', async () => {
    const first = await signIn()
    const responses = await Promise.all(Array.from({ length: 50 }, () => refresh(t, first.refreshToken)))
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200))
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ refresh_token: string }>))
    expect(new Set(bodies.map((b) => b.refresh_token)).size).toBe(1)
    expect((await chainOf(first.sessionId)).generation).toBe(1)
    expect(await isLiveToken(first.sessionId, bodies[0]!.refresh_token)).toBe(true)
    await ok(await refresh(t, bodies[0]!.refresh_token))
  })

  it('keeps one successor when 50 concurrent refreshes are split across two central instances', async () => {
    const otherPool = createPool(db.url)
    try {
      const other = await buildCentralApp(otherPool, { clock: t.clock, env: { REFRESH_GRACE_SECONDS: '10' } })
      const first = await signIn()
      const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => refresh(i % 2 === 0 ? t : other, first.refreshToken)))
      expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200))
      const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ refresh_token: string }>))
      expect(new Set(bodies.map((b) => b.refresh_token)).size).toBe(1)
      expect((await chainOf(first.sessionId)).generation).toBe(1)
      expect(await isLiveToken(first.sessionId, bodies[0]!.refresh_token)).toBe(true)
    } finally {
      await otherPool.end()
    }
  })
})

describe('POST /oauth/token — reuse detection', () => {
  it('revokes the session when a rotated token is replayed after the grace window, and rejects its successors', async () => {
    const first = await signIn()
    const rotated = await ok(await refresh(t, first.refreshToken, {}, { 'User-Agent': 'legit-phone' }))
    t.clock.advance(11)
    const replay = await refresh(t, first.refreshToken, {}, { 'User-Agent': 'attacker-laptop' })
    expect(replay.status).toBe(400)
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' })
    const successor = await refresh(t, rotated.refresh_token)
    expect(successor.status).toBe(400)
    expect(await successor.json()).toMatchObject({ error: 'invalid_grant' })
    const [session] = await db.sql<{ revoked_at: Date | null; revoked_by: string }[]>`select revoked_at, revoked_by from sessions where id = ${first.sessionId}`
    expect(session!.revoked_at).not.toBeNull()
    const [event] = await db.sql<{ details: { rotation: { userAgent: string; at: string }; reuse: { userAgent: string; at: string } } }[]>`
      select details from audit_events where event_type = 'session.reuse_detected' and session_id = ${first.sessionId}`
    expect(event!.details.rotation.userAgent).toBe('legit-phone')
    expect(event!.details.reuse.userAgent).toBe('attacker-laptop')
    expect(new Date(event!.details.reuse.at).getTime() - new Date(event!.details.rotation.at).getTime()).toBe(11_000)
  })

  it('records the address of both presenters behind a trusted proxy', async () => {
    const proxied = await buildCentralApp(db.sql, { env: { TRUST_PROXY: 'true' }, clock: t.clock })
    const first = await startTestSession(proxied.deps, { user, userAgent: 'test-agent', ip: '10.0.0.1', actor: 'user' })
    await ok(await refresh(proxied, first.refreshToken, {}, { 'X-Forwarded-For': '198.51.100.7' }))
    t.clock.advance(11)
    expect((await refresh(proxied, first.refreshToken, {}, { 'X-Forwarded-For': '203.0.113.66, 10.0.0.2' })).status).toBe(400)
    const [event] = await db.sql<{ details: { rotation: { ip: string }; reuse: { ip: string } } }[]>`
      select details from audit_events where event_type = 'session.reuse_detected' and session_id = ${first.sessionId}`
    expect(event!.details.rotation.ip).toBe('198.51.100.7')
    expect(event!.details.reuse.ip).toBe('203.0.113.66')
  })

  it('lets no refresh succeed after a racing revoke commits', async () => {
    const first = await signIn()
    const now = t.clock()
    let pending: Promise<Response>[] = []
    await db.sql.begin(async (tx) => {
      expect(await revokeSession(tx, { sessionId: first.sessionId, actor: 'admin:test', reason: 'race', now })).toBe('revoked')
      // Refreshes start while the revoke is uncommitted: they must wait on the session lock.
      pending = Array.from({ length: 5 }, async () => refresh(t, first.refreshToken))
      for (;;) {
        const [waiting] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`
        if (waiting!.n >= 1) break
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })
    const responses = await Promise.all(pending)
    for (const response of responses) {
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
    }
    expect(await isLiveToken(first.sessionId, first.refreshToken)).toBe(true)
    expect((await chainOf(first.sessionId)).generation).toBe(0)
  })

  it('leaves the presented token valid when the refresh transaction fails', async () => {
    const first = await signIn()
    // A real failure inside the refresh transaction, after the rotation statement ran:
    // the audit insert raises "admin_shutdown", as during a database restart.
    await db.sql.unsafe(`
      create function fail_refresh_audit() returns trigger language plpgsql as $$
      begin
        if new.event_type = 'session.refreshed' then raise exception 'simulated outage' using errcode = 'admin_shutdown'; end if;
        return new;
      end $$;
      create trigger fail_refresh_audit before insert on audit_events for each row execute function fail_refresh_audit();`)
    try {
      const failed = await refresh(t, first.refreshToken)
      expect(failed.status).toBe(503)
      expect(await failed.json()).toMatchObject({ error: 'temporarily_unavailable' })
    } finally {
      await db.sql.unsafe('drop trigger fail_refresh_audit on audit_events; drop function fail_refresh_audit();')
    }
    // Long after the grace window: a spent token would now count as reuse.
    t.clock.advance(60)
    const retried = await ok(await refresh(t, first.refreshToken))
    expect(decodeJwt(retried.access_token).sid).toBe(first.sessionId)
    expect(await isLiveToken(first.sessionId, retried.refresh_token)).toBe(true)
    expect((await chainOf(first.sessionId)).generation).toBe(1)
    const [session] = await db.sql<{ revoked_at: Date | null }[]>`select revoked_at from sessions where id = ${first.sessionId}`
    expect(session!.revoked_at).toBeNull()
  })
})

describe('POST /oauth/token — lifetimes', () => {
  it('rejects a refresh after the idle lifetime, and refreshing slides it', async () => {
    const first = await signIn()
    t.clock.advance(3000)
    const slid = await ok(await refresh(t, first.refreshToken))
    t.clock.advance(3000)
    const stillAlive = await ok(await refresh(t, slid.refresh_token))
    t.clock.advance(3601)
    const idle = await refresh(t, stillAlive.refresh_token)
    expect(idle.status).toBe(400)
    expect(await idle.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('rejects a refresh after the absolute lifetime even when used constantly', async () => {
    const first = await signIn()
    let token = first.refreshToken
    for (let i = 0; i < 3; i++) {
      t.clock.advance(3000)
      token = (await ok(await refresh(t, token))).refresh_token
    }
    t.clock.advance(1001)
    const expired = await refresh(t, token)
    expect(expired.status).toBe(400)
    expect(await expired.json()).toMatchObject({ error: 'invalid_grant' })
  })
})

describe('POST /oauth/token — narrowing', () => {
  it('narrows aud to one resource (RFC 8707)', async () => {
    const first = await signIn()
    const body = await ok(await refresh(t, first.refreshToken, { resource: 'https://billing.example.test' }))
    expect(decodeJwt(body.access_token).aud).toEqual(['https://billing.example.test'])
  })

  it('answers invalid_target for a resource outside the grant, without spending the token', async () => {
    const first = await signIn()
    const response = await refresh(t, first.refreshToken, { resource: 'https://evil.example.test' })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_target' })
    t.clock.advance(60)
    await ok(await refresh(t, first.refreshToken))
  })

  it('narrows scope on request', async () => {
    const first = await signIn()
    const body = await ok(await refresh(t, first.refreshToken, { scope: 'read' }))
    expect(body.scope).toBe('read')
    expect(decodeJwt(body.access_token).scope).toBe('read')
    // The session keeps its full grant.
    const next = await ok(await refresh(t, body.refresh_token))
    expect(next.scope).toBe('read write')
  })

  it('answers invalid_scope for a wider scope', async () => {
    const first = await signIn()
    const response = await refresh(t, first.refreshToken, { scope: 'read admin' })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_scope' })
  })
})

describe('POST /oauth/token — RFC 6749 §5.2 errors', () => {
  const form = (body: string, contentType = 'application/x-www-form-urlencoded') =>
    t.app.request('/oauth/token', { method: 'POST', headers: { 'Content-Type': contentType }, body })

  it('answers invalid_request when grant_type is missing', async () => {
    const response = await form('refresh_token=abc')
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('answers unsupported_grant_type for another grant', async () => {
    const response = await form('grant_type=password&username=a&password=b')
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'unsupported_grant_type' })
  })

  it('answers invalid_request when refresh_token is missing', async () => {
    const response = await form('grant_type=refresh_token')
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
  })

  it.each([
    ['garbage', 'not a token'],
    ['truncated', 'A'.repeat(42)],
    ['unknown', 'A'.repeat(43)],
    ['SQL-looking', "' or 1=1; drop table sessions; --"],
    ['oversized', 'A'.repeat(1000)],
  ])('answers invalid_grant for a %s refresh token', async (_label, token) => {
    const response = await refresh(t, token)
    expect(response.status).toBe(400)
    const body = await response.json()
    expect(body).toMatchObject({ error: 'invalid_grant' })
    expect(JSON.stringify(body)).not.toContain(token.slice(0, 20))
  })

  it('answers 415 for a JSON body', async () => {
    const response = await form(JSON.stringify({ grant_type: 'refresh_token' }), 'application/json')
    expect(response.status).toBe(415)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('answers 413 for an oversized body', async () => {
    const response = await form(`grant_type=refresh_token&refresh_token=${'A'.repeat(t.config.MAX_BODY_BYTES + 10)}`)
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('answers invalid_grant when another client presents the token, without revoking the session', async () => {
    const first = await signIn('mobile')
    const wrong = await refresh(t, first.refreshToken, { client_id: 'web' })
    expect(wrong.status).toBe(400)
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' })
    const right = await ok(await refresh(t, first.refreshToken, { client_id: 'mobile' }))
    expect(decodeJwt(right.access_token).client_id).toBe('mobile')
  })
})

describe('signing key rotation seen by clients', () => {
  it('publishes the new kid before it signs and keeps the old kid until its tokens expire', async () => {
    const fresh = await createTestDatabase()
    try {
      const clock = controllableClock()
      const app = await buildCentralApp(fresh.sql, { clock })
      const kids = async () => ((await (await app.app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)
      const jwks = await app.app.request('/.well-known/jwks.json')
      expect(jwks.headers.get('Cache-Control')).toBe('public, max-age=300')
      const [oldKid] = await kids()
      const u = await insertTestUser(fresh.sql)
      const session = await startTestSession(app.deps, { user: u, actor: 'user' })
      const rotate = await app.app.request('/admin/keys/rotate', { method: 'POST', headers: { Authorization: `Bearer ${app.config.ADMIN_TOKEN}` } })
      expect(rotate.status).toBe(200)
      const { kid: newKid } = (await rotate.json()) as { kid: string }
      expect(await kids()).toEqual(expect.arrayContaining([oldKid, newKid]))
      const before = await ok(await refresh(app, session.refreshToken))
      expect(decodeProtectedHeader(before.access_token).kid).toBe(oldKid)
      clock.advance(app.config.KEY_PUBLISH_AHEAD_SECONDS)
      const after = await ok(await refresh(app, before.refresh_token))
      expect(decodeProtectedHeader(after.access_token).kid).toBe(newKid)
      expect(await kids()).toContain(oldKid)
      clock.advance(app.config.ACCESS_TOKEN_TTL_SECONDS + app.config.CLOCK_TOLERANCE_SECONDS + 1)
      expect(await kids()).toEqual([newKid])
    } finally {
      await fresh.drop()
    }
  })
})
