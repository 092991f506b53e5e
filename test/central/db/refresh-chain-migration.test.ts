import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrateDatabase } from '../../../central/db/migrate'
import { sealSuccessor, sha256RefreshToken } from '../../../central/sessions/refresh-token'
import { buildCentralApp, controllableClock, type CentralTestApp } from '../../support/central-app'
import { refresh } from '../../support/central-requests'
import { createTestDatabase, type TestDatabase } from '../../support/database'

const MIGRATION = '0009_session_row_refresh_chain.sql'
const migrationsDir = fileURLToPath(new URL('../../../central/db/migrations/', import.meta.url))

let db: TestDatabase
let t: CentralTestApp
const clock = controllableClock()
const secondsAgo = (s: number) => new Date(clock().getTime() - s * 1000)
const legacyToken = () => randomBytes(32).toString('base64url')

/** The schema as it was before MIGRATION, applied the way migrateDatabase applies it. */
async function migrateUpToBefore(name: string) {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{4}_.+\.sql$/.test(f) && f < name).sort()
  await db.sql.begin(async (tx) => {
    await tx`create table schema_migrations (name text primary key, applied_at timestamptz not null default now())`
    for (const file of files) {
      await tx.unsafe(await readFile(migrationsDir + file, 'utf8'))
      await tx`insert into schema_migrations (name) values (${file})`
    }
  })
}

/**
 * A session in the earlier layout: one refresh_tokens row per token issued, `tokens[i]` rotated
 * `rotatedSecondsAgo[i]` ago into `tokens[i + 1]` (its successor sealed on its row), the last one live.
 */
async function insertLegacySession(userId: string, rotatedSecondsAgo: number[]) {
  const tokens = Array.from({ length: rotatedSecondsAgo.length + 1 }, legacyToken)
  const [session] = await db.sql<{ id: string }[]>`
    insert into sessions (user_id, client_id, audiences, scopes, roles, user_agent, ip, created_at, last_used_at, idle_expires_at, absolute_expires_at)
    values (${userId}, 'web', ${['https://api.example.test']}, ${['read']}, '{}', 'old-phone', '10.0.0.1', ${secondsAgo(3600)},
            ${secondsAgo(rotatedSecondsAgo.at(-1) ?? 3600)}, ${new Date(clock().getTime() + 3600_000)}, ${new Date(clock().getTime() + 86_400_000)})
    returning id`
  const sid = session!.id
  for (const [i, token] of tokens.entries()) {
    const rotated = i < rotatedSecondsAgo.length
    await db.sql`
      insert into refresh_tokens (session_id, token_hash, created_at, rotated_at, successor_sealed, rotated_ip, rotated_user_agent)
      values (${sid}, ${sha256RefreshToken(token)}, ${secondsAgo(3600)}, ${rotated ? secondsAgo(rotatedSecondsAgo[i]!) : null},
              ${rotated ? sealSuccessor(token, tokens[i + 1]!, sid) : null}, ${rotated ? '10.0.0.1' : null}, ${rotated ? 'old-phone' : null})`
  }
  return { sid, tokens }
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false })
  await migrateUpToBefore(MIGRATION)
})
afterAll(() => db.drop())

describe(`migration ${MIGRATION}`, () => {
  let user: string
  let continuing: { sid: string; tokens: string[] }
  let reused: { sid: string; tokens: string[] }
  let ended: { sid: string; tokens: string[] }
  let retried: { sid: string; tokens: string[] }

  beforeAll(async () => {
    const [row] = await db.sql<{ id: string }[]>`
      insert into users (username, audiences, scopes) values ('before-upgrade', ${['https://api.example.test']}, ${['read']}) returning id`
    user = row!.id
    continuing = await insertLegacySession(user, [600, 2])
    reused = await insertLegacySession(user, [60])
    ended = await insertLegacySession(user, [])
    retried = await insertLegacySession(user, [2])
    await db.sql`update sessions set revoked_at = ${secondsAgo(10)}, revoked_reason = 'logout', revoked_by = 'user' where id = ${ended.sid}`

    // First of whatever later migrations there are.
    expect((await migrateDatabase(db.sql))[0]).toBe(MIGRATION)
    t = await buildCentralApp(db.sql, { clock, env: { REFRESH_GRACE_SECONDS: '10' } })
  })

  it('hands back the identical successor to a retry that spans the upgrade', async () => {
    const { sid, tokens } = retried
    const replay = await refresh(t, tokens[0]!)
    expect(replay.status).toBe(200)
    expect(((await replay.json()) as { refresh_token: string }).refresh_token).toBe(tokens[1])
    expect((await db.sql`select revoked_at from sessions where id = ${sid}`)[0]!.revoked_at).toBeNull()
  })

  it('keeps a token issued before the upgrade working until it rotates, and the chain goes on in the new format', async () => {
    const live = continuing.tokens.at(-1)!
    const first = await refresh(t, live)
    expect(first.status).toBe(200)
    const body = (await first.json()) as { access_token: string; refresh_token: string }
    expect(decodeJwt(body.access_token).sid).toBe(continuing.sid)
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{91}$/)
    const next = await refresh(t, body.refresh_token)
    expect(next.status).toBe(200)
    expect(decodeJwt(((await next.json()) as { access_token: string }).access_token).sid).toBe(continuing.sid)
    // Spent: the old-format token is now reuse like any other.
    t.clock.advance(11)
    expect((await refresh(t, live)).status).toBe(400)
    expect((await db.sql`select revoked_at from sessions where id = ${continuing.sid}`)[0]!.revoked_at).not.toBeNull()
  })

  it('revokes the session when a token rotated before the upgrade is presented after the grace window', async () => {
    const response = await refresh(t, reused.tokens[0]!)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await db.sql`select revoked_at from sessions where id = ${reused.sid}`)[0]!.revoked_at).not.toBeNull()
    const [event] = await db.sql<{ details: { rotation: { userAgent: string } } }[]>`
      select details from audit_events where event_type = 'session.reuse_detected' and session_id = ${reused.sid}`
    expect(event!.details.rotation.userAgent).toBe('old-phone')
    expect((await refresh(t, reused.tokens[1]!)).status).toBe(400)
  })

  it('keeps a session revoked before the upgrade revoked', async () => {
    expect((await refresh(t, ended.tokens[0]!)).status).toBe(400)
  })
})
