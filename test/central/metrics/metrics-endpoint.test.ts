import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../central/config'
import { createAppDeps } from '../../../central/app-deps'
import { createApp } from '../../../central/http/app'
import { createTestDatabase, type TestDatabase } from '../../support/database'

const METRICS_TOKEN = 'metrics-secret-0123456789'
const config = loadConfig({ METRICS_TOKEN })
const now = new Date('2026-11-24T12:00:00Z')

let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

const scrape = (app: ReturnType<typeof createApp>, token = METRICS_TOKEN) =>
  app.request('/metrics', { headers: { Authorization: `Bearer ${token}` } })

/** The value of one sample line, e.g. `portcullis_logins_total{outcome="ok"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

async function insertSession(userId: string, options: { revoked?: boolean; idleExpiresAt?: Date } = {}) {
  await db.sql`
    insert into sessions (user_id, client_id, audiences, scopes, created_at, last_used_at,
                          idle_expires_at, absolute_expires_at, revoked_at)
    values (${userId}, 'web', '{api}', '{}', ${now}, ${now}, ${options.idleExpiresAt ?? new Date(now.getTime() + 3_600_000)},
            ${new Date(now.getTime() + 7_200_000)}, ${options.revoked ? now : null})`
}

describe('GET /metrics', () => {
  it('refuses a request without the metrics token', async () => {
    const app = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
    const res = await app.request('/metrics')
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer /)
  })

  it('refuses a wrong metrics token', async () => {
    const app = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
    const res = await scrape(app, 'not-the-metrics-token')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: 'invalid_token' })
  })

  it('does not exist when METRICS_TOKEN is unset', async () => {
    const app = createApp(createAppDeps({ sql: db.sql, config: loadConfig({}), clock: () => now }))
    const res = await scrape(app)
    expect(res.status).toBe(404)
  })

  it('serves Prometheus text with every counter pre-created at zero', async () => {
    const app = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
    const res = await scrape(app)
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toContain('text/plain')
    const text = await res.text()
    for (const outcome of ['ok', 'failed', 'throttled']) expect(sample(text, `portcullis_logins_total{outcome="${outcome}"}`)).toBe(0)
    for (const outcome of ['rotated', 'grace_replay', 'reuse_detected', 'expired', 'invalid']) {
      expect(sample(text, `portcullis_refreshes_total{outcome="${outcome}"}`)).toBe(0)
    }
    expect(sample(text, 'portcullis_db_pool_max_connections')).toBe(config.DATABASE_POOL_MAX)
    expect(sample(text, 'portcullis_db_up')).toBe(1)
  })

  it('counts active sessions from the database at scrape time, leaving out revoked and expired ones', async () => {
    const [user] = await db.sql<{ id: string }[]>`insert into users (username) values ('gauge-user') returning id`
    await insertSession(user!.id)
    await insertSession(user!.id)
    await insertSession(user!.id, { revoked: true })
    await insertSession(user!.id, { idleExpiresAt: new Date(now.getTime() - 1000) })
    const app = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
    expect(sample(await (await scrape(app)).text(), 'portcullis_active_sessions')).toBe(2)
    await insertSession(user!.id)
    expect(sample(await (await scrape(app)).text(), 'portcullis_active_sessions')).toBe(3)
  })

  it('records request latency per route pattern, not per raw path', async () => {
    const app = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
    await app.request('/no/such/thing-1')
    await app.request('/no/such/thing-2')
    const text = await (await scrape(app)).text()
    expect(sample(text, 'portcullis_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}')).toBe(2)
    expect(text).not.toContain('thing-1')
  })

  it('keeps one registry per app, so two apps in one process count apart', async () => {
    const first = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
    const second = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
    await first.request('/nothing-here')
    const firstText = await (await scrape(first)).text()
    const secondText = await (await scrape(second)).text()
    expect(sample(firstText, 'portcullis_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}')).toBe(1)
    expect(sample(secondText, 'portcullis_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}')).toBeUndefined()
  })
})
