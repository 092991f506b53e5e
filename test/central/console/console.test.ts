import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ADMIN_ROLE } from '../../../shared/access-token-claims'
import type { AuditEventType } from '../../../central/audit/audit-event'
import { countRecentActivity, listAuditEvents, recordAuditEvent } from '../../../central/audit/store'
import { formatInstant } from '../../../central/console/format'
import { countActiveSessions, findSession } from '../../../central/sessions/store'
import { buildCentralApp, type CentralTestApp } from '../../support/central-app'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser, type TestUser } from '../../support/users'
import { ConsoleBrowser, insertLiveSession } from './console-support'

const PASSWORD = 'correct horse battery staple'

let db: TestDatabase
let t: CentralTestApp
let admin: TestUser
let alice: TestUser

beforeAll(async () => {
  db = await createTestDatabase()
  t = await buildCentralApp(db.sql, { env: { REVOCATION_TRUST_SECONDS: '7' } })
  admin = await insertTestUser(db.sql, { username: 'ops-admin', password: PASSWORD, roles: [ADMIN_ROLE] })
})
afterAll(() => db.drop())
beforeEach(async () => {
  await db.sql`delete from users where username = 'alice'`
  alice = await insertTestUser(db.sql, { username: 'alice', password: PASSWORD })
})

async function signedInBrowser(): Promise<ConsoleBrowser> {
  const browser = new ConsoleBrowser(t)
  const res = await browser.signIn(admin.username, PASSWORD)
  expect(res.status).toBe(303)
  return browser
}

describe('console sign-in', () => {
  it('stores at most 512 characters of the User-Agent with the console session, like API sessions', async () => {
    const browser = new ConsoleBrowser(t)
    const csrf = await browser.csrfFrom('/console/sign-in')
    const res = await browser.post('/console/sign-in', { username: admin.username, password: PASSWORD, _csrf: csrf }, { Origin: browser.origin, 'User-Agent': 'x'.repeat(5000) })
    expect(res.status).toBe(303)
    const [stored] = await db.sql<{ user_agent: string }[]>`select user_agent from console_sessions where user_id = ${admin.id} order by created_at desc limit 1`
    expect(stored!.user_agent).toBe('x'.repeat(512))
  })

  it('signs an admin in with an HttpOnly, Secure, SameSite=Strict cookie and audits it', async () => {
    const browser = new ConsoleBrowser(t)
    const res = await browser.signIn(admin.username, PASSWORD)
    expect(res.status).toBe(303)
    expect(res.headers.get('Location')).toBe('/console/')
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-portcullis-console='))
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/Secure/i)
    expect(cookie).toMatch(/SameSite=Strict/i)
    const overview = await browser.get('/console/')
    expect(overview.status).toBe(200)
    expect(await overview.text()).toContain('<h1>Overview</h1>')
    const [event] = await listAuditEvents(db.sql, { type: 'console.sign_in', userId: admin.id, limit: 1 })
    expect(event?.actor).toBe('admin:ops-admin')
  })

  it('refuses a user without the portcullis:admin role, with the wrong-password answer', async () => {
    const browser = new ConsoleBrowser(t)
    const res = await browser.signIn('alice', PASSWORD)
    expect(res.status).toBe(401)
    expect(await res.text()).toContain('Sign-in failed')
    expect(browser.cookies.has('__Host-portcullis-console')).toBe(false)
    expect((await browser.get('/console/')).headers.get('Location')).toBe('/console/sign-in')
  })

  it('refuses a wrong password', async () => {
    const browser = new ConsoleBrowser(t)
    const res = await browser.signIn(admin.username, 'not the password')
    expect(res.status).toBe(401)
    expect(browser.cookies.has('__Host-portcullis-console')).toBe(false)
  })

  it.each([
    ['a username longer than the login API accepts', 'u'.repeat(201), PASSWORD],
    // Random, so PostgreSQL cannot compress it under the 2704-byte btree limit of the throttle key.
    ['a username far beyond the throttle index limit', randomBytes(4500).toString('base64url'), PASSWORD],
    ['an empty username', '', PASSWORD],
    ['a password longer than the login API accepts', 'ops-admin', 'p'.repeat(1025)],
  ])('refuses %s with the failed sign-in form, before any database work', async (_, username, password) => {
    const attemptsBefore = await db.sql`select key, failures from login_attempts order by key`
    const browser = new ConsoleBrowser(t)
    const res = await browser.signIn(username, password)
    expect(res.status).toBe(400)
    const html = await res.text()
    expect(html).toContain('Sign-in failed')
    expect(html).toContain('name="_csrf"')
    expect(browser.cookies.has('__Host-portcullis-console')).toBe(false)
    expect(await db.sql`select key, failures from login_attempts order by key`).toEqual(attemptsBefore)
  })

  it('audits a sign-in as an unknown user without the typed name, shown with no user and reason unknown_user', async () => {
    const typed = 'maybe-a-password-typed-as-username'
    expect((await new ConsoleBrowser(t).signIn(typed, PASSWORD)).status).toBe(401)
    const html = await (await (await signedInBrowser()).get('/console/audit?type=user.login_failed')).text()
    const row = /<tr>(?:(?!<\/tr>)[\s\S])*user\.login_failed(?:(?!<\/tr>)[\s\S])*<\/tr>/.exec(html)?.[0]
    expect(row).toContain('<td>unknown_user</td>')
    expect(row).toContain('<td>—</td>')
    expect(html).not.toContain(typed)
  })

  it('refuses a sign-in post without the sign-in CSRF cookie value', async () => {
    const browser = new ConsoleBrowser(t)
    await browser.get('/console/sign-in')
    const res = await browser.post('/console/sign-in', { username: admin.username, password: PASSWORD, _csrf: 'forged' })
    expect(res.status).toBe(403)
  })

  it('refuses a sign-in post that carries neither Origin nor Sec-Fetch-Site, even with the right CSRF value', async () => {
    const browser = new ConsoleBrowser(t)
    const csrf = await browser.csrfFrom('/console/sign-in')
    const res = await browser.post('/console/sign-in', { username: admin.username, password: PASSWORD, _csrf: csrf }, {})
    expect(res.status).toBe(403)
    expect(browser.cookies.has('__Host-portcullis-console')).toBe(false)
  })

  it('refuses a same-site sign-in post from an origin not allowed, and a cross-site one', async () => {
    for (const headers of [{ 'Sec-Fetch-Site': 'same-site', Origin: 'https://blog.central.test' }, { 'Sec-Fetch-Site': 'cross-site', Origin: 'http://central.test' }]) {
      const browser = new ConsoleBrowser(t)
      const csrf = await browser.csrfFrom('/console/sign-in')
      const res = await browser.post('/console/sign-in', { username: admin.username, password: PASSWORD, _csrf: csrf }, headers)
      expect(res.status).toBe(403)
      expect(browser.cookies.has('__Host-portcullis-console')).toBe(false)
    }
  })

  it('signs in with Sec-Fetch-Site: same-origin alone (a browser that leaves Origin out)', async () => {
    const browser = new ConsoleBrowser(t)
    const csrf = await browser.csrfFrom('/console/sign-in')
    const res = await browser.post('/console/sign-in', { username: admin.username, password: PASSWORD, _csrf: csrf }, { 'Sec-Fetch-Site': 'same-origin' })
    expect(res.status).toBe(303)
    expect(browser.cookies.has('__Host-portcullis-console')).toBe(true)
  })

  it('redirects to sign-in when there is no console session', async () => {
    const res = await t.app.request('/console/users')
    expect(res.status).toBe(303)
    expect(res.headers.get('Location')).toBe('/console/sign-in')
  })

  it('ends the console session on sign-out', async () => {
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/')
    const stolenCookie = browser.cookies.get('__Host-portcullis-console')
    const res = await browser.post('/console/sign-out', { _csrf: csrf })
    expect(res.status).toBe(303)
    // The old cookie value is dead on the server too, not only deleted in the browser.
    const replay = await t.app.request('/console/', { headers: { Cookie: `__Host-portcullis-console=${stolenCookie}` } })
    expect(replay.status).toBe(303)
  })

  it('ends console access at once when the admin loses the role', async () => {
    const other = await insertTestUser(db.sql, { password: PASSWORD, roles: [ADMIN_ROLE] })
    const browser = new ConsoleBrowser(t)
    expect((await browser.signIn(other.username, PASSWORD)).status).toBe(303)
    await db.sql`update users set roles = '{}' where id = ${other.id}`
    expect((await browser.get('/console/')).status).toBe(303)
  })
})

describe('console pages', () => {
  it('finds users by username prefix', async () => {
    const browser = await signedInBrowser()
    const html = await (await browser.get('/console/users?q=ali')).text()
    expect(html).toContain('href="/console/users/alice"')
    expect(html).not.toContain('href="/console/users/ops-admin"')
  })

  it("shows a user's grants and sessions with device, IP and client", async () => {
    await insertLiveSession(db.sql, alice.id, t.clock(), 'Mozilla/5.0 TestPhone')
    const browser = await signedInBrowser()
    const html = await (await browser.get('/console/users/alice')).text()
    expect(html).toContain('Mozilla/5.0 TestPhone')
    expect(html).toContain('203.0.113.7')
    expect(html).toContain('https://api.example.test')
    expect(html).toContain('Revoke all sessions')
    // State, created and last used (the session was created and last used at the test clock's now).
    expect(html).toContain('<span class="badge active">active</span>')
    expect(html).toContain(formatInstant(t.clock()))
  })

  it('answers 404 for an unknown user', async () => {
    const browser = await signedInBrowser()
    expect((await browser.get('/console/users/nobody-here')).status).toBe(404)
  })

  it('renders the overview counts and the 24-hour chart', async () => {
    await insertLiveSession(db.sql, alice.id, t.clock())
    const browser = await signedInBrowser()
    const html = await (await browser.get('/console/')).text()
    // The page shows the numbers the store counts at this moment, each under its label.
    const counts = { activeSessions: await countActiveSessions(db.sql, t.clock()), ...(await countRecentActivity(db.sql, t.clock())) }
    expect(counts.activeSessions).toBeGreaterThan(0)
    const card = (label: string) => new RegExp(`<div class="n">(\\d+)</div><div class="l">${label.replace(/[()]/g, '\\$&')}</div>`).exec(html)?.[1]
    expect(card('Active sessions')).toBe(String(counts.activeSessions))
    expect(card('Logins (24 h)')).toBe(String(counts.logins))
    expect(card('Revocations (24 h)')).toBe(String(counts.revocations))
    expect(html).toMatch(/<svg[^>]*class="chart"/)
  })

  it('sends a strict Content-Security-Policy and forbids framing', async () => {
    const browser = await signedInBrowser()
    const res = await browser.get('/console/')
    expect(res.headers.get('Content-Security-Policy')).toContain("frame-ancestors 'none'")
    expect(res.headers.get('Content-Security-Policy')).toContain("default-src 'none'")
    expect(res.headers.get('Cache-Control')).toBe('no-store')
  })
})

describe('console actions', () => {
  it('revokes one session, audits it with the admin as actor and says when the edge enforces it', async () => {
    const keep = await insertLiveSession(db.sql, alice.id, t.clock())
    const target = await insertLiveSession(db.sql, alice.id, t.clock())
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/users/alice')
    const { response: res } = await browser.postConfirmed(`/console/users/alice/sessions/${target}/revoke`, { _csrf: csrf })
    expect(res.status).toBe(303)
    expect((await findSession(db.sql, target, t.clock()))?.state).toBe('revoked')
    expect((await findSession(db.sql, keep, t.clock()))?.state).toBe('active')
    const [event] = await listAuditEvents(db.sql, { sessionId: target, type: 'session.revoked' })
    expect(event?.actor).toBe('admin:ops-admin')
    const page = await (await browser.get(res.headers.get('Location')!)).text()
    expect(page).toContain('within 7 seconds')
  })

  it('refuses a cross-site form post even with a valid CSRF token', async () => {
    const target = await insertLiveSession(db.sql, alice.id, t.clock())
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/users/alice')
    const res = await browser.post(`/console/users/alice/sessions/${target}/revoke`, { _csrf: csrf }, { Origin: 'https://evil.example' })
    expect(res.status).toBe(403)
    expect((await findSession(db.sql, target, t.clock()))?.state).toBe('active')
  })

  it('refuses a post whose Sec-Fetch-Site says cross-site', async () => {
    const target = await insertLiveSession(db.sql, alice.id, t.clock())
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/users/alice')
    const res = await browser.post(`/console/users/alice/sessions/${target}/revoke`, { _csrf: csrf }, { 'Sec-Fetch-Site': 'cross-site' })
    expect(res.status).toBe(403)
    expect((await findSession(db.sql, target, t.clock()))?.state).toBe('active')
  })

  it('refuses a same-origin post without the CSRF token', async () => {
    const target = await insertLiveSession(db.sql, alice.id, t.clock())
    const browser = await signedInBrowser()
    const res = await browser.post(`/console/users/alice/sessions/${target}/revoke`, { _csrf: 'guess' })
    expect(res.status).toBe(403)
    expect((await findSession(db.sql, target, t.clock()))?.state).toBe('active')
  })

  it('does not revoke a session of another user through this user’s page', async () => {
    const bob = await insertTestUser(db.sql, { password: PASSWORD })
    const bobs = await insertLiveSession(db.sql, bob.id, t.clock())
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/users/alice')
    const res = await browser.post(`/console/users/alice/sessions/${bobs}/revoke`, { _csrf: csrf })
    expect(res.status).toBe(404)
    expect((await findSession(db.sql, bobs, t.clock()))?.state).toBe('active')
  })

  it('revokes every session of a user', async () => {
    const sessions = [await insertLiveSession(db.sql, alice.id, t.clock()), await insertLiveSession(db.sql, alice.id, t.clock())]
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/users/alice')
    const { response: res } = await browser.postConfirmed('/console/users/alice/sessions/revoke-all', { _csrf: csrf })
    expect(res.status).toBe(303)
    for (const id of sessions) expect((await findSession(db.sql, id, t.clock()))?.state).toBe('revoked')
    expect(await (await browser.get(res.headers.get('Location')!)).text()).toContain('Revoked 2 session(s)')
  })

  it('disables a user, revoking their sessions, and enables them again', async () => {
    const session = await insertLiveSession(db.sql, alice.id, t.clock())
    const browser = await signedInBrowser()
    let csrf = await browser.csrfFrom('/console/users/alice')
    expect((await browser.postConfirmed('/console/users/alice/disable', { _csrf: csrf })).response.status).toBe(303)
    const [disabled] = await db.sql<{ enabled: boolean }[]>`select enabled from users where id = ${alice.id}`
    expect(disabled?.enabled).toBe(false)
    expect((await findSession(db.sql, session, t.clock()))?.state).toBe('revoked')
    const [event] = await listAuditEvents(db.sql, { userId: alice.id, type: 'user.disabled' })
    expect(event?.actor).toBe('admin:ops-admin')
    csrf = await browser.csrfFrom('/console/users/alice')
    expect((await browser.post('/console/users/alice/enable', { _csrf: csrf })).status).toBe(303)
    const [enabled] = await db.sql<{ enabled: boolean }[]>`select enabled from users where id = ${alice.id}`
    expect(enabled?.enabled).toBe(true)
  })

  it('rotates the signing key and shows the next key', async () => {
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/keys')
    const res = await browser.post('/console/keys/rotate', { _csrf: csrf })
    expect(res.status).toBe(303)
    const html = await (await browser.get(res.headers.get('Location')!)).text()
    expect(html).toContain('badge next')
    const [next] = await db.sql<{ kid: string; activates_at: Date }[]>`select kid, activates_at from signing_keys order by created_at desc limit 1`
    expect(html).toContain(`New key ${next!.kid} published; it signs from ${formatInstant(next!.activates_at)}.`)
  })

  it('never shows notice text taken from the URL', async () => {
    const browser = await signedInBrowser()
    const response = await browser.get('/console/keys?done=rotated&kid=Call+0800-SCAM&from=now')
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).not.toContain('0800-SCAM')
    // The notice itself is shown, built from the keys: the page did not simply drop it.
    const [newest] = await db.sql<{ kid: string }[]>`select kid from signing_keys order by created_at desc limit 1`
    expect(html).toContain(`New key ${newest!.kid} published`)
  })

  it('rotates at once after a leak and withdraws the earlier keys when asked', async () => {
    const browser = await signedInBrowser()
    const before = await db.sql<{ kid: string }[]>`select kid from signing_keys`
    const csrf = await browser.csrfFrom('/console/keys')
    const { response: res } = await browser.postConfirmed('/console/keys/rotate', { _csrf: csrf, immediate: '1', revokePrevious: '1' })
    expect(res.status).toBe(303)
    const keys = await db.sql<{ kid: string; unpublish_at: Date | null; activates_at: Date }[]>`select kid, unpublish_at, activates_at from signing_keys`
    const fresh = keys.find((k) => !before.some((b) => b.kid === k.kid))
    expect(fresh!.activates_at.getTime()).toBeLessThanOrEqual(t.clock().getTime())
    for (const old of keys.filter((k) => k.kid !== fresh!.kid)) expect(old.unpublish_at!.getTime()).toBeLessThanOrEqual(t.clock().getTime())
    const [event] = await listAuditEvents(db.sql, { type: 'key.created', limit: 1 })
    expect(event?.actor).toBe('admin:ops-admin')
  })
})

describe('console actions are audited as the admin', () => {
  const countByAdmin = async (type: AuditEventType, userId?: string) =>
    (await listAuditEvents(db.sql, { type, ...(userId ? { userId } : {}), limit: 500 })).filter((e) => e.actor === 'admin:ops-admin').length

  it('audits every other console action with the admin as actor: revoke all, enable, scheduled rotation, sign-out', async () => {
    await insertLiveSession(db.sql, alice.id, t.clock())
    const browser = await signedInBrowser()
    const before = {
      revokeAll: await countByAdmin('user.sessions_revoked', alice.id),
      enabled: await countByAdmin('user.enabled', alice.id),
      keyCreated: await countByAdmin('key.created'),
      signOut: await countByAdmin('console.sign_out', admin.id),
    }
    let csrf = await browser.csrfFrom('/console/users/alice')
    expect((await browser.postConfirmed('/console/users/alice/sessions/revoke-all', { _csrf: csrf })).response.status).toBe(303)
    expect(await countByAdmin('user.sessions_revoked', alice.id)).toBe(before.revokeAll + 1)

    await db.sql`update users set enabled = false where id = ${alice.id}`
    csrf = await browser.csrfFrom('/console/users/alice')
    expect((await browser.post('/console/users/alice/enable', { _csrf: csrf })).status).toBe(303)
    expect(await countByAdmin('user.enabled', alice.id)).toBe(before.enabled + 1)

    csrf = await browser.csrfFrom('/console/keys')
    expect((await browser.post('/console/keys/rotate', { _csrf: csrf })).status).toBe(303)
    expect(await countByAdmin('key.created')).toBe(before.keyCreated + 1)

    csrf = await browser.csrfFrom('/console/')
    expect((await browser.post('/console/sign-out', { _csrf: csrf })).status).toBe(303)
    expect(await countByAdmin('console.sign_out', admin.id)).toBe(before.signOut + 1)
  })
})

/** The event type column of the audit table's rows. */
function eventCells(html: string): string[] {
  return [...html.matchAll(/<td class="mono">([a-z_]+\.[a-z_]+)<\/td>/g)].map((match) => match[1]!)
}

describe('console audit trail', () => {
  it('filters by user and event type, newest first', async () => {
    const first = await insertLiveSession(db.sql, alice.id, t.clock())
    const second = await insertLiveSession(db.sql, alice.id, t.clock())
    await db.sql`insert into audit_events (at, event_type, actor, user_id) values (now(), 'user.updated', 'system', ${alice.id})`
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/users/alice')
    await browser.postConfirmed(`/console/users/alice/sessions/${first}/revoke`, { _csrf: csrf })
    t.clock.advance(1)
    await browser.postConfirmed(`/console/users/alice/sessions/${second}/revoke`, { _csrf: csrf })
    const html = await (await browser.get('/console/audit?user=alice&type=session.revoked')).text()
    expect(html).toContain('admin:ops-admin')
    expect(html.indexOf(second.slice(0, 8))).toBeGreaterThan(-1)
    expect(html.indexOf(second.slice(0, 8))).toBeLessThan(html.indexOf(first.slice(0, 8))) // newest first
    expect(eventCells(html).every((type) => type === 'session.revoked')).toBe(true)
    expect(eventCells(await (await browser.get('/console/audit?user=alice')).text())).toContain('user.updated') // the filter removed it
  })

  it('pages back through older events', async () => {
    const browser = await signedInBrowser()
    await db.sql`insert into audit_events (at, event_type, actor, user_id) select now(), 'user.updated', 'system', ${alice.id} from generate_series(1, 60)`
    const [{ count }] = await db.sql<[{ count: number }]>`select count(*)::int as count from audit_events where user_id = ${alice.id}`
    const first = await (await browser.get('/console/audit?user=alice')).text()
    expect(eventCells(first)).toHaveLength(50)
    const older = /href="([^"]*before=\d+[^"]*)"/.exec(first)?.[1]
    expect(older).toBeDefined()
    const second = await (await browser.get(older!.replaceAll('&amp;', '&'))).text()
    expect(second).toContain('Newest')
    expect(count).toBeLessThanOrEqual(100) // two pages hold them all
    expect(eventCells(second)).toHaveLength(count - 50) // every event once: none twice, none skipped
    expect(second).not.toContain('Older events')
  })

  it('filters by session, newest first', async () => {
    const target = await insertLiveSession(db.sql, alice.id, t.clock())
    const other = await insertLiveSession(db.sql, alice.id, t.clock())
    await recordAuditEvent(db.sql, { type: 'session.refreshed', at: t.clock(), actor: 'user', userId: alice.id, sessionId: target })
    await recordAuditEvent(db.sql, { type: 'session.refreshed', at: t.clock(), actor: 'user', userId: alice.id, sessionId: other })
    const browser = await signedInBrowser()
    const csrf = await browser.csrfFrom('/console/users/alice')
    await browser.postConfirmed(`/console/users/alice/sessions/${target}/revoke`, { _csrf: csrf })
    const html = await (await browser.get(`/console/audit?session=${target}`)).text()
    expect(html).not.toContain(other.slice(0, 8))
    const refreshed = html.indexOf('<td class="mono">session.refreshed</td>')
    const revoked = html.indexOf('<td class="mono">session.revoked</td>')
    expect(refreshed).toBeGreaterThan(-1)
    expect(revoked).toBeGreaterThan(-1)
    // The revocation happened last, so it is listed first.
    expect(revoked).toBeLessThan(refreshed)
  })

  it('answers 400 for a malformed session filter instead of failing in SQL', async () => {
    const browser = await signedInBrowser()
    const res = await browser.get('/console/audit?session=not-a-uuid')
    expect(res.status).toBe(400)
  })
})
