import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_ROLE } from '../../shared/access-token-claims'
import { createTestDatabase, type TestDatabase } from '../support/database'
import { ADMIN_TOKEN, callApi, createUser, startWholeStack, type SessionTokens, type WholeStack } from '../e2e/whole-stack'
import { expectUsableOnLaptop, launchChromium, screenshot } from './browser-support'

const PASSWORD = 'correct horse battery staple'

let db: TestDatabase
let stack: WholeStack
let base: string
let browser: Browser
let context: BrowserContext
let page: Page

/** Logs in through the edge with a given device, as a phone or laptop would. */
async function login(username: string, userAgent: string): Promise<SessionTokens> {
  const res = await stack.edge.fetch('/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': userAgent },
    body: JSON.stringify({ username, password: PASSWORD }),
  })
  expect(res.status).toBe(200)
  const body = (await res.json()) as { access_token: string; refresh_token: string }
  const sid = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()).sid as string
  return { accessToken: body.access_token, refreshToken: body.refresh_token, sid, sub: '' }
}

const adminApi = (path: string) => fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })

beforeAll(async () => {
  db = await createTestDatabase()
  // The whole stack: central (its real main), the edge Worker in workerd, an origin API.
  stack = await startWholeStack({ databaseUrl: db.url, centralEnv: { COOKIE_SECURE: 'true', REVOCATION_TRUST_SECONDS: '1' }, edgeVars: { REVOCATION_POLL_SECONDS: '1' } })
  // `localhost` is a secure context for Chromium, so the production cookie settings
  // (Secure, __Host- prefix) work over plain http here.
  base = stack.central.url.replace('127.0.0.1', 'localhost')
  const admin = await fetch(`${base}/admin/users`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'ops-admin', password: PASSWORD, roles: [ADMIN_ROLE] }),
  })
  expect(admin.status).toBe(201)
  await createUser(stack.central.url, 'alice', PASSWORD)
  browser = await launchChromium()
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  page = await context.newPage()
})
afterAll(async () => {
  await browser?.close()
  await stack?.close()
  await db?.drop()
})

describe('ops console in Chromium', () => {
  it('refuses to sign in a user without the portcullis:admin role', async () => {
    await page.goto(`${base}/console/`)
    expect(new URL(page.url()).pathname).toBe('/console/sign-in')
    await screenshot(page, '01-sign-in')
    await expectUsableOnLaptop(page)
    await page.getByLabel('Username').fill('alice')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 20_000 }).toContain('Sign-in failed')
    await screenshot(page, '02-sign-in-refused')
    expect((await context.cookies()).some((c) => c.name === '__Host-portcullis-console')).toBe(false)
  })

  it('signs an admin in, finds a user, revokes one session, sees it in the audit trail; the API and the edge agree it is dead', async () => {
    const phone = await login('alice', 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Mobile Safari')
    const laptop = await login('alice', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0')
    expect((await callApi(stack.edge, phone.accessToken)).status).toBe(200)

    await page.getByLabel('Username').fill('ops-admin')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    const cookie = (await context.cookies()).find((c) => c.name === '__Host-portcullis-console')
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' })
    await screenshot(page, '03-overview')
    await expectUsableOnLaptop(page)

    await page.getByRole('link', { name: 'Users' }).click()
    await page.getByLabel('Username starts with').fill('ali')
    await page.getByRole('button', { name: 'Search' }).click()
    await screenshot(page, '04-users')
    await expectUsableOnLaptop(page)
    await page.getByRole('link', { name: 'alice' }).click()
    await page.getByRole('heading', { name: /User alice/ }).waitFor()
    await screenshot(page, '05-user')
    await expectUsableOnLaptop(page)

    const sessions = (await (await adminApi('/admin/users/alice/sessions')).json()) as { sessions: { id: string; user_agent: string | null }[] }
    const sid = phone.sid
    expect(sessions.sessions.find((s) => s.id === sid)?.user_agent).toContain('iPhone')
    await page.getByRole('button', { name: `Revoke session ${sid.slice(0, 8)}` }).click()
    // A revoke asks first; the confirmation page's button does it.
    await page.getByRole('heading', { name: 'Revoke this session?' }).waitFor()
    await page.getByRole('button', { name: 'Revoke session' }).click()
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 20_000 }).toContain('within 1 second (')
    await screenshot(page, '06-user-session-revoked')
    await expectUsableOnLaptop(page)

    await page.getByRole('link', { name: 'Audit trail', exact: true }).click()
    await page.getByLabel('User').fill('alice')
    await page.getByLabel('Event type').selectOption('session.revoked')
    await page.getByRole('button', { name: 'Filter' }).click()
    const row = page.getByRole('row').filter({ hasText: sid.slice(0, 8) })
    await expect.poll(() => row.textContent(), { timeout: 20_000 }).toContain('admin:ops-admin')
    await screenshot(page, '07-audit')
    await expectUsableOnLaptop(page)

    await page.getByRole('link', { name: 'Signing keys' }).click()
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor()
    await screenshot(page, '08-keys')
    await expectUsableOnLaptop(page)

    // The admin API agrees: that session is dead, its refresh token refused; the other lives on.
    const after = (await (await adminApi('/admin/users/alice/sessions')).json()) as { sessions: { id: string; state: string }[] }
    expect(after.sessions.find((s) => s.id === sid)?.state).toBe('revoked')
    expect(after.sessions.find((s) => s.id !== sid)?.state).toBe('active')
    const refresh = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: phone.refreshToken }),
    })
    expect(refresh.status).toBe(400)
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' })
    // And the edge: the revoked session's access token is refused once the feed has been
    // polled; the laptop's keeps working.
    await expect.poll(async () => (await callApi(stack.edge, phone.accessToken)).status, { timeout: 20_000 }).toBe(401)
    expect(JSON.parse((await callApi(stack.edge, phone.accessToken)).body)).toMatchObject({ error: 'invalid_token' })
    expect((await callApi(stack.edge, laptop.accessToken)).status).toBe(200)
  })

  it('refuses a form posted from another site', async () => {
    const victim = await login('alice', 'Mozilla/5.0 victim')
    const sessions = (await (await adminApi('/admin/users/alice/sessions')).json()) as { sessions: { id: string; state: string; user_agent: string | null }[] }
    const sid = victim.sid
    expect(sessions.sessions.find((s) => s.id === sid)?.state).toBe('active')
    const csrf = await page.goto(`${base}/console/users/alice`).then(() => page.locator('input[name="_csrf"]').first().inputValue())
    // Even a leaked CSRF token does not help a foreign page: the Origin check refuses first.
    const evil = await serveEvilPage(`<form method="post" action="${base}/console/users/alice/sessions/${sid}/revoke">
      <input type="hidden" name="_csrf" value="${csrf}"><button>Win a prize</button></form>`)
    try {
      await page.goto(evil.url)
      await page.getByRole('button', { name: 'Win a prize' }).click()
      await page.getByRole('heading', { name: 'Request refused' }).waitFor()
      await screenshot(page, '09-cross-site-refused')
    } finally {
      await evil.close()
    }
    const after = (await (await adminApi('/admin/users/alice/sessions')).json()) as { sessions: { id: string; state: string }[] }
    expect(after.sessions.find((s) => s.id === sid)?.state).toBe('active')
    expect((await callApi(stack.edge, victim.accessToken)).status).toBe(200)
  })
})

/** A page on another origin (127.0.0.1 vs localhost, another port) that posts a form to the console. */
async function serveEvilPage(body: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' })
    res.end(`<!doctype html><html><body>${body}</body></html>`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) }
}
