import { randomBytes } from 'node:crypto'
import type { Browser, BrowserContext, Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../central/config'
import { findFreePort } from '../../central/db/embedded-postgres'
import { startDemoOrigin } from '../../central/dev/demo-origin'
import { startDemoSignIn, type DemoSignIn } from '../../central/dev/demo-sign-in'
import { startCentral, type RunningCentral } from '../../central/main'
import { createTestDatabase, type TestDatabase } from '../support/database'
import { startEdge, type RunningEdge } from '../support/edge-worker'
import { launchChromium, screenshot } from './browser-support'

const ADMIN_TOKEN = 'browser-admin-token-0123456789abcdef'
const EDGE_FEED_TOKEN = 'browser-edge-feed-token-0123456789abcdef'
/** Where this walk's screenshots go (git-ignored; CI keeps them as artifacts). */
const SCREENSHOTS = new URL('../../test-artifacts/federated-sign-in/', import.meta.url).pathname
/**
 * The demo page README shows, committed beside the console's; rewritten only when asked
 * (`UPDATE_SCREENSHOTS=1 npm run test:e2e`), so a test run leaves the tree clean.
 */
const README_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? new URL('./screenshots/', import.meta.url).pathname : undefined

let db: TestDatabase
let origin: { url: string; stop(): Promise<void> }
let edge: RunningEdge
let demo: DemoSignIn
let central: RunningCentral
let edgeUrl: string
let browser: Browser
let context: BrowserContext
let page: Page
/** Every request the page sent, in order: method, URL, and the headers Chromium actually sent. */
const requests: { url: string; headers: Record<string, string>; request: Request }[] = []

const admin = async <T,>(path: string): Promise<T> => {
  const response = await fetch(`${central.url}${path}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(response.status, path).toBe(200)
  return (await response.json()) as T
}

/** The value the demo page shows for a CurrentUser field. */
const field = (name: string) => page.locator(`tr[data-field="${name}"] td`).textContent()

beforeAll(async () => {
  db = await createTestDatabase()
  // The whole stack as `npm start` wires it, on free ports: the demo app's origin, the edge Worker
  // in workerd (its own loopback port), the demo OpenID provider on 127.0.0.2 — another site than
  // the edge on 127.0.0.1, as a real provider is — and central (its real main) on this database.
  origin = await startDemoOrigin(0)
  const centralUrl = `http://127.0.0.1:${await findFreePort()}`
  edge = await startEdge({
    ISSUER: centralUrl,
    JWKS_URL: `${centralUrl}/.well-known/jwks.json`,
    CENTRAL_URL: centralUrl,
    ROUTES: JSON.stringify([{ prefix: '/app/', origin: origin.url, audience: 'demo-api', browser: true }]),
    EDGE_FEED_TOKEN,
    REVOCATION_POLL_SECONDS: '1',
  })
  edgeUrl = edge.url.origin
  expect(edge.url.hostname).toBe('127.0.0.1')
  demo = await startDemoSignIn({ publicUrl: edgeUrl, clientSecret: randomBytes(24).toString('base64url'), host: '127.0.0.2' })
  central = await startCentral(
    loadConfig({
      DATABASE_URL: db.url,
      PORT: new URL(centralUrl).port,
      ISSUER: centralUrl,
      ADMIN_TOKEN,
      EDGE_FEED_TOKEN,
      COOKIE_SECURE: 'false',
      TRUST_PROXY: 'true',
      PUBLIC_URL: edgeUrl,
      ALLOWED_ORIGINS: edgeUrl,
      IDENTITY_PROVIDERS: demo.identityProviders,
    }),
    () => {},
  )
  browser = await launchChromium()
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  page = await context.newPage()
  page.on('request', (request) => {
    if (request.isNavigationRequest()) requests.push({ url: request.url(), headers: {}, request })
  })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await edge?.dispose()
  await central?.stop()
  await demo?.close()
  await origin?.stop()
  await db?.drop()
})

/** The headers Chromium put on the wire for a navigation (cookies included). */
async function sentHeaders(url: (u: URL) => boolean): Promise<Record<string, string>[]> {
  const matching = requests.filter((r) => url(new URL(r.url)))
  return await Promise.all(matching.map((r) => r.request.allHeaders()))
}

describe('federated sign-in in Chromium (provider on another site)', () => {
  it('sends a page load without a session to sign-in, through the provider, and back to the page with the identity at the origin', async () => {
    await page.goto(`${edgeUrl}/app/`)
    expect(new URL(page.url()).pathname).toBe('/auth/sign-in')
    await screenshot(page, '01-sign-in', SCREENSHOTS)

    await page.getByRole('link', { name: 'Sign in with Demo IdP' }).click()
    await page.getByPlaceholder('Enter any login').waitFor()
    expect(new URL(page.url()).origin).toBe(demo.provider.issuer)
    expect(new URL(demo.provider.issuer).hostname).toBe('127.0.0.2')
    await screenshot(page, '02-provider-login', SCREENSHOTS)
    await page.getByPlaceholder('Enter any login').fill('alice')
    await page.getByPlaceholder('and password').fill('any password')
    requests.length = 0
    await page.getByRole('button', { name: 'Sign-in' }).click()
    // oidc-provider asks once whether portcullis may have these claims.
    const consent = page.getByRole('button', { name: 'Continue' })
    const landed = page.getByRole('heading', { name: 'Demo app' })
    await expect.poll(async () => (await consent.isVisible()) || (await landed.isVisible()), { timeout: 20_000 }).toBe(true)
    if (await consent.isVisible()) {
      await screenshot(page, '03-provider-consent', SCREENSHOTS)
      await consent.click()
    }
    await landed.waitFor()
    expect(page.url()).toBe(`${edgeUrl}/app/`)
    await screenshot(page, '04-demo-app', SCREENSHOTS)
    if (README_SCREENSHOTS) await screenshot(page, 'demo-app', README_SCREENSHOTS)

    // Who the origin was told about: the user created just in time from the provider's claims.
    const user = await admin<{ id: string; username: string }>('/admin/users/alice%40example.com')
    expect(await field('sub')).toBe(user.id)
    expect(await field('roles')).toBe('engineer support')
    expect(await field('audiences')).toBe('demo-api')
    expect(await page.locator('tr[data-header="x-portcullis-sub"] td').textContent()).toBe(user.id)

    // SameSite: the provider's redirect to the callback is cross-site, and the cookies the callback
    // sets (Lax) go with the redirect that follows it: the page loaded with identity, no sign-in
    // page in between. Strict cookies would have been left off that request.
    const [callback] = await sentHeaders((u) => u.pathname === '/auth/callback/demo')
    expect(callback?.['sec-fetch-site']).toBe('cross-site')
    const callbackResponse = await requests.find((r) => new URL(r.url).pathname === '/auth/callback/demo')!.request.response()
    const setCookies = (await callbackResponse!.headersArray()).filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value)
    expect(setCookies.find((c) => c.startsWith('portcullis_at='))).toMatch(/SameSite=Lax/i)
    const afterCallback = requests.slice(requests.findIndex((r) => new URL(r.url).pathname === '/auth/callback/demo') + 1)
    expect(afterCallback.map((r) => new URL(r.url).pathname)).toEqual(['/app/'])
    const [appRequest] = await sentHeaders((u) => u.pathname === '/app/')
    expect(appRequest?.cookie).toMatch(/(^|; )portcullis_at=/)
  })

  it('renews silently when the access token is gone: same session, new token, a rotation in the audit trail', async () => {
    const sid = await field('sid')
    const jti = await field('jti')
    await context.clearCookies({ name: 'portcullis_at' })
    requests.length = 0
    await page.goto(`${edgeUrl}/app/`)
    await page.getByRole('heading', { name: 'Demo app' }).waitFor()
    expect(requests.map((r) => new URL(r.url).pathname)).toEqual(['/app/', '/auth/sign-in', '/app/'])
    expect(await field('sid')).toBe(sid)
    expect(await field('jti')).not.toBe(jti)
    await screenshot(page, '05-after-silent-renewal', SCREENSHOTS)
    const { events } = await admin<{ events: { type: string }[] }>(`/admin/audit?session=${sid}&type=session.refreshed`)
    expect(events.length).toBeGreaterThanOrEqual(1)
  })

  it("ends the session when the person signs out at the provider (back-channel logout), so the next page load goes to sign-in", async () => {
    const sid = (await field('sid'))!
    await page.goto(`${demo.provider.issuer}/session/end`)
    await page.getByRole('button', { name: 'Yes, sign me out' }).waitFor()
    await screenshot(page, '06-provider-sign-out', SCREENSHOTS)
    await page.getByRole('button', { name: 'Yes, sign me out' }).click()
    await page.waitForURL((url) => url.pathname.endsWith('/session/end/success'))

    // The provider told central (OpenID Connect Back-Channel Logout) before answering the browser.
    const { events } = await admin<{ events: { type: string; actor: string }[] }>(`/admin/audit?session=${sid}&type=session.revoked`)
    expect(events).toEqual([expect.objectContaining({ actor: 'provider:demo' })])

    // Within the feed interval the edge refuses the access-token cookie, and central the refresh
    // cookie, so the page load ends on the sign-in page.
    await expect
      .poll(
        async () => {
          await page.goto(`${edgeUrl}/app/`)
          return new URL(page.url()).pathname
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe('/auth/sign-in')
    await page.getByRole('link', { name: 'Sign in with Demo IdP' }).waitFor()
    await screenshot(page, '07-signed-out', SCREENSHOTS)
    expect((await context.cookies(edgeUrl)).map((c) => c.name)).not.toContain('portcullis_at')
  })

  it("signs out from the demo page's link: the session ends here and at the provider, and the person lands on sign-in", async () => {
    await page.getByRole('link', { name: 'Sign in with Demo IdP' }).click()
    await page.getByPlaceholder('Enter any login').fill('alice')
    await page.getByPlaceholder('and password').fill('any password')
    await page.getByRole('button', { name: 'Sign-in' }).click()
    const consent = page.getByRole('button', { name: 'Continue' })
    const landed = page.getByRole('heading', { name: 'Demo app' })
    await expect.poll(async () => (await consent.isVisible()) || (await landed.isVisible()), { timeout: 20_000 }).toBe(true)
    if (await consent.isVisible()) await consent.click()
    await landed.waitFor()
    const sid = (await field('sid'))!

    await page.getByRole('link', { name: 'Sign out' }).click()
    // OpenID Connect RP-Initiated Logout: central continues to the provider's end_session_endpoint.
    await page.getByRole('button', { name: 'Yes, sign me out' }).click()
    await page.getByRole('link', { name: 'Sign in with Demo IdP' }).waitFor()
    expect(new URL(page.url()).pathname).toBe('/auth/sign-in')
    expect(new URL(page.url()).searchParams.get('return_to')).toBe(`${edgeUrl}/app/`)
    const { events } = await admin<{ events: { actor: string; reason?: string }[] }>(`/admin/audit?session=${sid}&type=session.revoked`)
    expect(events).toHaveLength(1)
    expect(events[0]!.actor).toBe('user')
  })
})
