import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPool } from '../../../central/db/pool'
import { createApp } from '../../../central/http/app'
import { buildCentralApp, TEST_ADMIN_TOKEN, type CentralTestApp } from '../../support/central-app'
import { login, refresh } from '../../support/central-requests'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser } from '../../support/users'

const METRICS_TOKEN = 'metrics-secret-0123456789'
const PASSWORD = 'correct horse battery staple'

let db: TestDatabase
let t: CentralTestApp

beforeAll(async () => {
  db = await createTestDatabase()
  t = await buildCentralApp(db.sql, { env: { METRICS_TOKEN, LOGIN_MAX_FAILURES_PER_USERNAME: '2', REFRESH_GRACE_SECONDS: '10' } })
  await insertTestUser(db.sql, { username: 'alice', password: PASSWORD })
  await insertTestUser(db.sql, { username: 'bob', password: PASSWORD })
})
afterAll(() => db.drop())

async function metric(series: string, app = t.app): Promise<number> {
  const text = await (await app.request('/metrics', { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

async function signIn(username: string): Promise<{ refresh_token: string; access_token: string }> {
  const res = await login(t, { username, password: PASSWORD })
  expect(res.status).toBe(200)
  return (await res.json()) as { refresh_token: string; access_token: string }
}

describe('metrics counters move with the actions they count', () => {
  it('counts logins ok, failed and throttled', async () => {
    await signIn('alice')
    expect(await metric('portcullis_logins_total{outcome="ok"}')).toBe(1)
    expect((await login(t, { username: 'bob', password: 'wrong password' })).status).toBe(401)
    expect((await login(t, { username: 'bob', password: 'wrong password' })).status).toBe(401)
    expect(await metric('portcullis_logins_total{outcome="failed"}')).toBe(2)
    expect((await login(t, { username: 'bob', password: PASSWORD })).status).toBe(429)
    expect(await metric('portcullis_logins_total{outcome="throttled"}')).toBe(1)
    expect(await metric('portcullis_logins_total{outcome="ok"}')).toBe(1)
  })

  it('counts refreshes: rotated, grace replay, reuse detected (also as a revocation) and invalid', async () => {
    const { refresh_token: first } = await signIn('alice')
    expect((await refresh(t, first)).status).toBe(200)
    expect(await metric('portcullis_refreshes_total{outcome="rotated"}')).toBe(1)
    expect((await refresh(t, first)).status).toBe(200)
    expect(await metric('portcullis_refreshes_total{outcome="grace_replay"}')).toBe(1)
    t.clock.advance(11)
    expect((await refresh(t, first)).status).toBe(400)
    expect(await metric('portcullis_refreshes_total{outcome="reuse_detected"}')).toBe(1)
    expect(await metric('portcullis_session_revocations_total{reason="reuse_detected"}')).toBe(1)
    expect((await refresh(t, 'not-a-real-refresh-token')).status).toBe(400)
    expect(await metric('portcullis_refreshes_total{outcome="invalid"}')).toBe(1)
    expect(await metric('portcullis_refreshes_total{outcome="rotated"}')).toBe(1)
  })

  it('counts a refresh of a session past its idle lifetime as expired, not invalid', async () => {
    const { refresh_token: token } = await signIn('alice')
    const invalidBefore = await metric('portcullis_refreshes_total{outcome="invalid"}')
    t.clock.advance(t.config.REFRESH_IDLE_TTL_SECONDS + 1)
    const res = await refresh(t, token)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_grant', error_description: 'session has expired' })
    expect(await metric('portcullis_refreshes_total{outcome="expired"}')).toBe(1)
    expect(await metric('portcullis_refreshes_total{outcome="invalid"}')).toBe(invalidBefore)
  })

  it('counts revocations by reason when ops disable a user', async () => {
    await signIn('alice')
    await signIn('alice')
    const res = await t.app.request('/admin/users/alice', {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ enabled: false }),
    })
    expect(res.status).toBe(200)
    const revoked = ((await res.json()) as { sessions_revoked: number }).sessions_revoked
    expect(revoked).toBeGreaterThan(0)
    expect(await metric('portcullis_session_revocations_total{reason="user_disabled"}')).toBe(revoked)
  })

  it('labels latency with the route pattern of the matched route', async () => {
    await t.app.request('/admin/users/alice', { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    expect(await metric('portcullis_http_request_duration_seconds_count{method="GET",route="/admin/users/:username",status="200"}')).toBe(1)
  })

  it('counts requests that failed because the database was unreachable', async () => {
    const deadSql = createPool('postgres://portcullis@127.0.0.1:1/none', { max: 1, connectTimeoutSeconds: 1 })
    const app = createApp({ ...t.deps, sql: deadSql })
    try {
      const res = await app.request('/console/', { headers: { Cookie: '__Host-portcullis-console=whatever' } })
      expect(res.status).toBe(503)
      expect(await metric('portcullis_database_errors_total{kind="unavailable"}', app)).toBeGreaterThanOrEqual(1)
      expect(await metric('portcullis_db_up', app)).toBe(0)
    } finally {
      await deadSql.end({ timeout: 1 })
    }
  })
})
