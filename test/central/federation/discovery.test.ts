import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { CookieJar, startUpstreamProvider, type UpstreamProvider } from '../../support/upstream-provider'
import { browse, buildFederationApp, CENTRAL, CLIENT_SECRET, type FederationTestApp } from './federation-harness'

let db: TestDatabase
let upstream: UpstreamProvider
let f: FederationTestApp

beforeAll(async () => {
  db = await createTestDatabase()
  upstream = await startUpstreamProvider({
    clients: [{ client_id: 'portcullis', client_secret: CLIENT_SECRET, redirect_uris: [`${CENTRAL}/auth/callback/demo`] }],
    accounts: [{ login: 'alice', email: 'alice@example.com', email_verified: true }],
  })
  f = await buildFederationApp(db.sql, [{ id: 'demo', issuer: upstream.issuer, client_id: 'portcullis', client_secret: CLIENT_SECRET, timeout_ms: 500 }])
})

afterAll(async () => {
  vi.useRealTimers()
  await upstream?.close()
  await db?.drop()
})

describe('discovered provider metadata', () => {
  it('stays in use when re-reading it fails after it expired (stale-if-error)', async () => {
    expect((await browse(f, new CookieJar(), '/auth/sign-in/demo')).status).toBe(302)
    await upstream.close()
    // Past the cache lifetime: central tries to read the metadata again and cannot.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 2 * 3600_000 })
    const response = await browse(f, new CookieJar(), '/auth/sign-in/demo')
    expect(response.status).toBe(302)
    expect(new URL(response.headers.get('location')!).origin).toBe(new URL(upstream.issuer).origin)
  })
})
