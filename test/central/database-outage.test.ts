import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import type { Sql } from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../central/config'
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../central/db/embedded-postgres'
import { migrateDatabase } from '../../central/db/migrate'
import { createPool } from '../../central/db/pool'
import { createAppDeps } from '../../central/app-deps'
import { createApp } from '../../central/http/app'
import { ensureSigningKeys } from '../../central/tokens/signing-keys'
import { insertTestUser } from '../support/users'

// This file stops and restarts PostgreSQL, so it runs its own server rather than the shared one.
const ADMIN_TOKEN = 'outage-test-admin-token-0123456789'
const PASSWORD = 'outage test password'
const config = loadConfig({ ADMIN_TOKEN, REFRESH_GRACE_SECONDS: '300', LOGIN_MAX_FAILURES_PER_IP: '1000' })

let dataDir: string
let database: EmbeddedDatabase
let sql: Sql
let server: Server
let base: string

async function startDatabase(port?: number): Promise<void> {
  database = await startEmbeddedPostgres({ dataDir, port, persistent: true })
}

/** Stops PostgreSQL, runs `duringOutage`, then brings it back on the same port. */
async function withOutage(duringOutage: () => Promise<void>): Promise<void> {
  const port = database.port
  await database.stop()
  try {
    await duringOutage()
  } finally {
    await startDatabase(port)
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-outage-'))
  await startDatabase()
  sql = createPool(database.url, { max: 10 })
  await migrateDatabase(sql)
  await ensureSigningKeys(sql, config, new Date())
  const app = createApp(createAppDeps({ sql, config, clock: () => new Date() }))
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  await new Promise((resolve) => server.once('listening', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}, 120_000)

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  await sql.end({ timeout: 5 })
  await database.stop()
  await rm(dataDir, { recursive: true, force: true })
})

const createUserViaApi = (username: string) =>
  fetch(`${base}/admin/users`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD, audiences: ['api'], scopes: ['read'] }),
  })

describe('database outage', () => {
  it('runs on a postgres.js patched against the null-socket crash (central/db/patch-postgres-driver.mjs)', async () => {
    const { readFile } = await import('node:fs/promises')
    for (const build of ['src', 'cjs/src']) {
      const text = await readFile(new URL(`../../node_modules/postgres/${build}/connection.js`, import.meta.url), 'utf8')
      expect(text).toContain('/* portcullis: null-socket guard */')
    }
  })

  it('answers 503 temporarily_unavailable while PostgreSQL is down and recovers by itself when it returns', async () => {
    expect((await createUserViaApi('before')).status).toBe(201)

    await withOutage(async () => {
      // Awaited before the database comes back: these cannot be waiting for it.
      const create = await createUserViaApi('during')
      expect(create.status).toBe(503)
      expect(create.headers.get('Retry-After')).toBe('1') // RFC 9110 §10.2.3: the outage is temporary
      expect(await create.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) })
      const show = await fetch(`${base}/admin/users/before`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })
      expect(show.status).toBe(503)
      const ready = await fetch(`${base}/readyz`)
      expect(ready.status).toBe(503)
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
    })

    expect((await fetch(`${base}/readyz`)).status).toBe(200)
    const after = await createUserViaApi('during')
    expect(after.status).toBe(201)
    const users = await sql<{ username: string }[]>`select username from users where username in ('before', 'during') order by username`
    expect(users.map((u) => u.username)).toEqual(['before', 'during'])
  }, 120_000)

  it('loses and forks no session when PostgreSQL stops and restarts under a refresh load', async () => {
    await insertTestUser(sql, { username: 'loader', password: PASSWORD, audiences: ['api'], scopes: ['read'] })
    const sessions: string[] = []
    for (let i = 0; i < 6; i++) sessions.push(await login('loader'))
    const state = sessions.map((refreshToken) => ({ refreshToken, successes: 0, unavailable: 0 }))
    const failures: string[] = []
    let running = true

    // One client per session, refreshing in a loop and keeping its token on 503, as a
    // well-behaved client does: a failed transaction must leave the old token valid.
    const workers = state.map(async (session) => {
      while (running && failures.length === 0) {
        let response: Response
        try {
          response = await refresh(session.refreshToken)
        } catch (error) {
          failures.push(`request failed: ${(error as Error).message}`)
          return
        }
        const body = (await response.json()) as { refresh_token?: string; error?: string }
        if (response.status === 200 && body.refresh_token) {
          session.refreshToken = body.refresh_token
          session.successes++
        } else if (response.status === 503 && body.error === 'temporarily_unavailable') {
          session.unavailable++
          await pause(10)
        } else {
          failures.push(`${response.status} ${JSON.stringify(body)}`)
        }
      }
    })

    await until(() => failures.length > 0 || state.every((s) => s.successes >= 3))
    await withOutage(async () => {
      await until(() => failures.length > 0 || state.every((s) => s.unavailable >= 2))
    })
    const successesAtRestart = state.map((s) => s.successes)
    await until(() => failures.length > 0 || state.every((s, i) => s.successes >= successesAtRestart[i]! + 3))
    running = false
    await Promise.all(workers)

    expect(failures).toEqual([])
    for (const session of state) {
      const response = await refresh(session.refreshToken)
      expect(response.status).toBe(200)
      session.refreshToken = ((await response.json()) as { refresh_token: string }).refresh_token
    }
    const chains = await sql<{ live_tokens: number; revoked_at: Date | null }[]>`
      select s.revoked_at, (s.token_hash is not null)::int as live_tokens
      from sessions s join users u on u.id = s.user_id
      where u.username = 'loader'`
    expect(chains).toHaveLength(6)
    expect(chains.every((c) => c.revoked_at === null && c.live_tokens === 1)).toBe(true)
    expect(await sql`select 1 from audit_events where event_type = 'session.reuse_detected'`).toHaveLength(0)
  }, 120_000)
})

async function login(username: string): Promise<string> {
  const response = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { refresh_token: string }).refresh_token
}

function refresh(refreshToken: string): Promise<Response> {
  return fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  })
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('database that accepts connections but never answers', () => {
  it('answers 503 temporarily_unavailable once the connect timeout passes, instead of hanging', async () => {
    const held: Socket[] = []
    const silent = createServer((socket) => void held.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const sql = createPool(`postgres://nobody:secret@127.0.0.1:${(silent.address() as AddressInfo).port}/none`, { max: 1, connectTimeoutSeconds: 1 })
    try {
      const app = createApp(createAppDeps({ sql, config: loadConfig({ ADMIN_TOKEN: ADMIN_TOKEN }), clock: () => new Date() }))
      const response = await app.request('/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: 'anyone', password: PASSWORD }),
      })
      expect(response.status).toBe(503)
      expect(response.headers.get('Retry-After')).toBe('1')
      expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' })
    } finally {
      await sql.end({ timeout: 0 })
      silent.close()
      for (const socket of held) socket.destroy()
    }
  })
})

/** Waits for a condition the load reaches by itself (bounded by the test's timeout). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await pause(20)
}
