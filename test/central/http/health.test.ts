import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../central/config'
import { createAppDeps } from '../../../central/app-deps'
import { createApp } from '../../../central/http/app'
import { createPool } from '../../../central/db/pool'
import { findFreePort } from '../../../central/db/embedded-postgres'
import { createTestDatabase, type TestDatabase } from '../../support/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

describe('health endpoints', () => {
  it('GET /healthz answers 200 while the process is up', async () => {
    const app = createApp(createAppDeps({ sql: db.sql, config: loadConfig({}), clock: () => new Date() }))
    const res = await app.request('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('GET /readyz answers 200 when the database answers', async () => {
    const app = createApp(createAppDeps({ sql: db.sql, config: loadConfig({}), clock: () => new Date() }))
    const res = await app.request('/readyz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('GET /readyz answers 503 and /healthz still 200 when nothing listens at the database address', async () => {
    const port = await findFreePort()
    const sql = createPool(`postgres://postgres:x@127.0.0.1:${port}/postgres`)
    try {
      const app = createApp(createAppDeps({ sql, config: loadConfig({}), clock: () => new Date() }))
      const ready = await app.request('/readyz')
      expect(ready.status).toBe(503)
      expect(await ready.json()).toEqual({ status: 'unavailable' })
      expect((await app.request('/healthz')).status).toBe(200)
    } finally {
      await sql.end({ timeout: 1 })
    }
  })
})
