import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../central/config'
import { createAppDeps } from '../../../central/app-deps'
import { createApp } from '../../../central/http/app'
import { ensureSigningKeys, rotateSigningKey } from '../../../central/tokens/signing-keys'
import { RevocationFeedSchema } from '../../../shared/revocation-feed'
import { createTestDatabase, type TestDatabase } from '../../support/database'

const FEED_TOKEN = 'edge-feed-secret-0123456789abcdef'
const config = loadConfig({ EDGE_FEED_TOKEN: FEED_TOKEN, ACCESS_TOKEN_TTL_SECONDS: '900', CLOCK_TOLERANCE_SECONDS: '30' })

let db: TestDatabase
let now: Date
let app: ReturnType<typeof createApp>

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())
beforeEach(async () => {
  await db.sql`truncate users cascade`
  now = new Date('2026-11-24T12:00:00Z')
  app = createApp(createAppDeps({ sql: db.sql, config, clock: () => now }))
})

async function insertUser(notBefore: Date | null = null): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    insert into users (username, not_before) values (${'u' + Math.random()}, ${notBefore}) returning id`
  return row!.id
}

async function insertSession(userId: string, revokedAt: Date | null): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    insert into sessions (user_id, client_id, audiences, scopes, created_at, last_used_at,
                          idle_expires_at, absolute_expires_at, revoked_at, revoked_reason)
    values (${userId}, 'web', '{api}', '{}', ${now}, ${now}, ${new Date(now.getTime() + 3_600_000)},
            ${new Date(now.getTime() + 7_200_000)}, ${revokedAt}, ${revokedAt ? 'test' : null})
    returning id`
  return row!.id
}

const fetchFeed = (headers: Record<string, string> = { Authorization: `Bearer ${FEED_TOKEN}` }) =>
  app.request('/edge/revocations', { headers })

const secondsAgo = (s: number) => new Date(now.getTime() - s * 1000)

describe('GET /edge/revocations', () => {
  it('lists sessions revoked and users logged out everywhere within the token lifetime', async () => {
    const alice = await insertUser()
    const revokedSid = await insertSession(alice, secondsAgo(60))
    await insertSession(alice, null)
    const bob = await insertUser(secondsAgo(10))

    const res = await fetchFeed()
    expect(res.status).toBe(200)
    const feed = RevocationFeedSchema.parse(await res.json())
    expect(feed.window_seconds).toBe(930)
    expect(feed.sessions).toEqual([{ sid: revokedSid, revoked_at: Math.floor(secondsAgo(60).getTime() / 1000) }])
    expect(feed.users).toEqual([{ sub: bob, not_before: Math.floor(secondsAgo(10).getTime() / 1000) }])
  })

  it('stays bounded: entries older than token lifetime plus tolerance age out', async () => {
    const alice = await insertUser(secondsAgo(931))
    for (let i = 0; i < 20; i++) await insertSession(alice, secondsAgo(931 + i))
    const recent = await insertSession(alice, secondsAgo(929))

    const feed = RevocationFeedSchema.parse(await (await fetchFeed()).json())
    expect(feed.sessions.map((s) => s.sid)).toEqual([recent])
    expect(feed.users).toEqual([])

    now = new Date(now.getTime() + 2_000)
    const later = RevocationFeedSchema.parse(await (await fetchFeed()).json())
    expect(later.sessions).toEqual([])
  })

  it('answers 304 to a poll that already has the current version, and a new version after a revocation', async () => {
    const alice = await insertUser()
    await insertSession(alice, secondsAgo(5))
    const first = await fetchFeed()
    const etag = first.headers.get('ETag')!
    expect(etag).toMatch(/^".+"$/)

    now = new Date(now.getTime() + 5_000)
    const unchanged = await fetchFeed({ Authorization: `Bearer ${FEED_TOKEN}`, 'If-None-Match': etag })
    expect(unchanged.status).toBe(304)
    expect(await unchanged.text()).toBe('')

    await insertSession(alice, secondsAgo(1))
    const changed = await fetchFeed({ Authorization: `Bearer ${FEED_TOKEN}`, 'If-None-Match': etag })
    expect(changed.status).toBe(200)
    expect(changed.headers.get('ETag')).not.toBe(etag)
    expect(RevocationFeedSchema.parse(await changed.json()).sessions).toHaveLength(2)
  })

  it('answers 200 with a new version when an entry ages out, although nothing new was revoked', async () => {
    const alice = await insertUser()
    await insertSession(alice, secondsAgo(900))
    const recent = await insertSession(alice, secondsAgo(10))
    const first = await fetchFeed()
    const etag = first.headers.get('ETag')!

    now = new Date(now.getTime() + 31_000)
    const later = await fetchFeed({ Authorization: `Bearer ${FEED_TOKEN}`, 'If-None-Match': etag })
    expect(later.status).toBe(200)
    expect(later.headers.get('ETag')).not.toBe(etag)
    expect(RevocationFeedSchema.parse(await later.json()).sessions.map((s) => s.sid)).toEqual([recent])
  })

  it('gives the same version to every central instance for the same revocations', async () => {
    const alice = await insertUser(secondsAgo(3))
    await insertSession(alice, secondsAgo(5))
    const other = createApp(createAppDeps({ sql: db.sql, config, clock: () => new Date(now.getTime() + 1_000) }))
    const fromOne = await fetchFeed()
    const fromOther = await other.request('/edge/revocations', { headers: { Authorization: `Bearer ${FEED_TOKEN}`, 'If-None-Match': fromOne.headers.get('ETag')! } })
    expect(fromOther.status).toBe(304)
  })

  it('carries the signing key set version: a rotation, immediate or scheduled, changes it and the feed version', async () => {
    await ensureSigningKeys(db.sql, config, now)
    const first = await fetchFeed()
    let etag = first.headers.get('ETag')!
    let before = RevocationFeedSchema.parse(await first.json()).keys_version
    expect(before).toBeTruthy()
    expect((await fetchFeed({ Authorization: `Bearer ${FEED_TOKEN}`, 'If-None-Match': etag })).status).toBe(304)

    for (const options of [{ immediate: true, revokePrevious: true }, {}]) {
      await rotateSigningKey(db.sql, config, now, 'test', options)
      const changed = await fetchFeed({ Authorization: `Bearer ${FEED_TOKEN}`, 'If-None-Match': etag })
      expect(changed.status).toBe(200)
      expect(changed.headers.get('ETag')).not.toBe(etag)
      const keysVersion = RevocationFeedSchema.parse(await changed.json()).keys_version
      expect(keysVersion).not.toBe(before)
      etag = changed.headers.get('ETag')!
      before = keysVersion
      now = new Date(now.getTime() + 1_000)
    }
  })

  it('rejects a poll without the feed secret', async () => {
    const res = await fetchFeed({})
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="portcullis"')
  })

  it('rejects a poll with the wrong feed secret', async () => {
    const res = await fetchFeed({ Authorization: 'Bearer not-the-edge-feed-secret-at-all' })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: 'invalid_token' })
    expect(res.headers.get('WWW-Authenticate')).toContain('error="invalid_token"')
  })

  it('does not exist when no EDGE_FEED_TOKEN is configured', async () => {
    const closed = createApp(createAppDeps({ sql: db.sql, config: loadConfig({}), clock: () => now }))
    const res = await closed.request('/edge/revocations', { headers: { Authorization: `Bearer ${FEED_TOKEN}` } })
    expect(res.status).toBe(404)
  })
})
