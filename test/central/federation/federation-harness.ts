import type { Sql } from 'postgres'
import { expect } from 'vitest'
import { buildCentralApp, TEST_ISSUER, type CentralTestApp } from '../../support/central-app'
import { CookieJar, signInAtProvider } from '../../support/upstream-provider'

export const CENTRAL = TEST_ISSUER
export const CLIENT_SECRET = 'portcullis-client-secret-for-tests'
export const APP_ORIGIN = 'https://app.example.test'
export const EDGE_FEED_TOKEN = 'test-edge-feed-token-0123456789'

export interface FederationTestApp extends CentralTestApp {
  /** central's app, configured with these providers. */
  request: (path: string, init?: RequestInit) => Promise<Response>
}

/** Central (real app, real database) with IDENTITY_PROVIDERS set to these entries. */
export async function buildFederationApp(sql: Sql, providersJson: unknown[]): Promise<FederationTestApp> {
  const t = await buildCentralApp(sql, { env: { ALLOWED_ORIGINS: APP_ORIGIN, EDGE_FEED_TOKEN, IDENTITY_PROVIDERS: JSON.stringify(providersJson) } })
  return { ...t, request: async (path, init) => await t.app.request(path, init) }
}

/** A request from the browser owning `jar` to central; its Set-Cookie lands in the jar. */
export async function browse(f: FederationTestApp, jar: CookieJar, path: string, init: RequestInit = {}): Promise<Response> {
  const url = new URL(path, CENTRAL)
  const headers = new Headers(init.headers)
  const cookie = jar.header(url)
  if (cookie) headers.set('cookie', cookie)
  const response = await f.request(url.pathname + url.search, { ...init, headers })
  jar.store(url, response)
  return response
}

/** GET /auth/sign-in/:provider, then the provider's login and consent: the callback URL, not yet followed. */
export async function startAndAuthenticate(f: FederationTestApp, jar: CookieJar, providerId: string, login: string, returnTo = '/app'): Promise<string> {
  const start = await browse(f, jar, `/auth/sign-in/${providerId}?return_to=${encodeURIComponent(returnTo)}`)
  expect(start.status).toBe(302)
  return await signInAtProvider(jar, start.headers.get('location')!, login)
}

/** The whole sign-in; returns the callback's response. */
export async function signIn(f: FederationTestApp, jar: CookieJar, providerId: string, login: string, returnTo = '/app'): Promise<Response> {
  const callback = await startAndAuthenticate(f, jar, providerId, login, returnTo)
  return await browse(f, jar, callback)
}

export async function countRows(sql: Sql): Promise<{ users: number; links: number; sessions: number; federated: number }> {
  const [row] = await sql<{ users: number; links: number; sessions: number; federated: number }[]>`
    select (select count(*)::int from users) as users, (select count(*)::int from identity_links) as links,
           (select count(*)::int from sessions) as sessions, (select count(*)::int from federated_sessions) as federated`
  return row!
}
