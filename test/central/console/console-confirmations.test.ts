import { describe, expect, it } from 'vitest'
import { ADMIN_ROLE } from '../../../shared/access-token-claims'
import { listAuditEvents } from '../../../central/audit/store'
import { formatInstant } from '../../../central/console/format'
import { findSession } from '../../../central/sessions/store'
import { usernameAndIpKey, usernameKey } from '../../../central/users/login-throttle'
import { findUserByUsername } from '../../../central/users/store'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer } from '../../support/central-requests'
import { insertTestUser, type TestUser } from '../../support/users'
import { confirmationForm, ConsoleBrowser, insertLiveSession } from './console-support'

const PASSWORD = 'correct horse battery staple'
const central = useCentralTestApp()

async function signedInAdmin(): Promise<{ browser: ConsoleBrowser; admin: TestUser; csrf: string }> {
  const admin = await insertTestUser(central.db.sql, { password: PASSWORD, roles: [ADMIN_ROLE] })
  const browser = new ConsoleBrowser(central.t)
  expect((await browser.signIn(admin.username, PASSWORD)).status).toBe(303)
  return { browser, admin, csrf: await browser.csrfFrom('/console/') }
}

const stateOf = (sessionId: string) => findSession(central.db.sql, sessionId, central.t.clock()).then((s) => s?.state)
const userRow = (username: string) => findUserByUsername(central.db.sql, username)
const keyCount = async () => (await central.db.sql<{ n: number }[]>`select count(*)::int as n from signing_keys`)[0]!.n
const failureRows = (username: string) => central.db.sql`select key from login_attempts where key = ${usernameKey(username)} or key like ${usernameAndIpKey(username, '%')}`

interface DestructiveAction {
  name: string
  /** Makes the target and returns the post to make, and checks of "not yet" and "done". */
  arrange(): Promise<{ path: string; form?: Record<string, string>; untouched(): Promise<void>; done(): Promise<void> }>
}

const actions: DestructiveAction[] = [
  {
    name: 'revoke one session',
    async arrange() {
      const user = await insertTestUser(central.db.sql)
      const session = await insertLiveSession(central.db.sql, user.id, central.t.clock())
      return {
        path: `/console/users/${user.username}/sessions/${session}/revoke`,
        untouched: async () => expect(await stateOf(session)).toBe('active'),
        done: async () => expect(await stateOf(session)).toBe('revoked'),
      }
    },
  },
  {
    name: 'revoke all sessions',
    async arrange() {
      const user = await insertTestUser(central.db.sql)
      const session = await insertLiveSession(central.db.sql, user.id, central.t.clock())
      return {
        path: `/console/users/${user.username}/sessions/revoke-all`,
        untouched: async () => expect(await stateOf(session)).toBe('active'),
        done: async () => expect(await stateOf(session)).toBe('revoked'),
      }
    },
  },
  {
    name: 'disable a user',
    async arrange() {
      const user = await insertTestUser(central.db.sql)
      return {
        path: `/console/users/${user.username}/disable`,
        untouched: async () => expect((await userRow(user.username))?.enabled).toBe(true),
        done: async () => expect((await userRow(user.username))?.enabled).toBe(false),
      }
    },
  },
  {
    name: 'remove a grant',
    async arrange() {
      const user = await insertTestUser(central.db.sql, { scopes: ['orders:read', 'orders:write'] })
      return {
        path: `/console/users/${user.username}/grants/remove`,
        form: { part: 'scopes', value: 'orders:write' },
        untouched: async () => expect((await userRow(user.username))?.scopes).toEqual(['orders:read', 'orders:write']),
        done: async () => expect((await userRow(user.username))?.scopes).toEqual(['orders:read']),
      }
    },
  },
  {
    name: 'unlock a user',
    async arrange() {
      const user = await insertTestUser(central.db.sql)
      await central.db.sql`insert into login_attempts (key, failures, window_start) values (${usernameKey(user.username)}, 60, now())`
      return {
        path: `/console/users/${user.username}/unlock`,
        untouched: async () => expect(await failureRows(user.username)).toHaveLength(1),
        done: async () => expect(await failureRows(user.username)).toHaveLength(0),
      }
    },
  },
  {
    name: 'rotate the signing key now',
    async arrange() {
      const before = await keyCount()
      return {
        path: '/console/keys/rotate',
        form: { immediate: '1' },
        untouched: async () => expect(await keyCount()).toBe(before),
        done: async () => expect(await keyCount()).toBe(before + 1),
      }
    },
  },
]

describe('destructive console actions ask for confirmation first', () => {
  for (const action of actions) {
    it(`${action.name}: the button's post only shows a confirmation page; its form does it`, async () => {
      const { browser, csrf } = await signedInAdmin()
      const target = await action.arrange()
      const first = await browser.post(target.path, { _csrf: csrf, ...target.form })
      expect(first.status).toBe(200)
      const page = await first.text()
      await target.untouched()
      const { action: postsTo, fields } = confirmationForm(page)
      expect(postsTo).toBe(target.path)
      expect(fields).toMatchObject({ _csrf: csrf, confirmed: '1', ...target.form })
      expect(page).toContain('>Cancel</a>')
      const confirmed = await browser.post(postsTo, fields)
      expect(confirmed.status).toBe(303)
      await target.done()
    })
  }

  it('refuses a confirmed post without the CSRF token, like every console post', async () => {
    const { browser } = await signedInAdmin()
    const user = await insertTestUser(central.db.sql)
    const response = await browser.post(`/console/users/${user.username}/disable`, { _csrf: 'forged', confirmed: '1' })
    expect(response.status).toBe(403)
    expect((await userRow(user.username))?.enabled).toBe(true)
  })

  it('keeps harmless actions one click: enable, add a grant, scheduled rotation', async () => {
    const { browser, csrf } = await signedInAdmin()
    const user = await insertTestUser(central.db.sql, { enabled: false, scopes: [] })
    expect((await browser.post(`/console/users/${user.username}/enable`, { _csrf: csrf })).status).toBe(303)
    const added = await browser.post(`/console/users/${user.username}/grants/add`, { _csrf: csrf, part: 'scopes', value: 'orders:read' })
    expect(added.status).toBe(303)
    expect(await (await browser.get(added.headers.get('Location')!)).text()).toContain('Grant added.')
    expect(await userRow(user.username)).toMatchObject({ enabled: true, scopes: ['orders:read'] })
    expect((await browser.post('/console/keys/rotate', { _csrf: csrf })).status).toBe(303)
  })
})

describe('console grants', () => {
  it('removes one grant value and keeps the rest, audited as the admin', async () => {
    const { browser, csrf, admin } = await signedInAdmin()
    const user = await insertTestUser(central.db.sql, { roles: ['support', 'billing'] })
    const { response } = await browser.postConfirmed(`/console/users/${user.username}/grants/remove`, { _csrf: csrf, part: 'roles', value: 'support' })
    expect(response.status).toBe(303)
    expect((await userRow(user.username))?.roles).toEqual(['billing'])
    const [event] = await listAuditEvents(central.db.sql, { userId: user.id, type: 'user.updated' })
    expect(event).toMatchObject({ actor: `admin:${admin.username}`, details: { removed: { roles: ['support'] } } })
  })

  it('refuses an admin removing their own portcullis:admin or disabling themselves, before any confirmation', async () => {
    const { browser, csrf, admin } = await signedInAdmin()
    for (const [path, form] of [
      [`/console/users/${admin.username}/grants/remove`, { part: 'roles', value: ADMIN_ROLE }],
      [`/console/users/${admin.username}/disable`, {}],
    ] as const) {
      const response = await browser.post(path, { _csrf: csrf, confirmed: '1', ...form })
      expect(response.status).toBe(409)
      expect(await response.text()).toContain('ask another admin')
    }
    expect(await userRow(admin.username)).toMatchObject({ enabled: true, roles: [ADMIN_ROLE] })
  })

  it('refuses a grant value the admin API would refuse', async () => {
    const { browser, csrf } = await signedInAdmin()
    const user = await insertTestUser(central.db.sql, { scopes: [] })
    const response = await browser.post(`/console/users/${user.username}/grants/add`, { _csrf: csrf, part: 'scopes', value: 'two words' })
    expect(response.status).toBe(400)
    expect((await userRow(user.username))?.scopes).toEqual([])
  })
})

describe('console user page', () => {
  it('shows "Logged out everywhere" at the revoke-all, not at a later grant change that moved not_before', async () => {
    const { browser, csrf } = await signedInAdmin()
    const user = await insertTestUser(central.db.sql, { scopes: ['read', 'write'] })
    await insertLiveSession(central.db.sql, user.id, central.t.clock())
    const logoutAt = central.t.clock()
    await browser.postConfirmed(`/console/users/${user.username}/sessions/revoke-all`, { _csrf: csrf })
    central.t.clock.advance(3600)
    await browser.postConfirmed(`/console/users/${user.username}/grants/remove`, { _csrf: csrf, part: 'scopes', value: 'write' })
    const notBefore = (await userRow(user.username))!.notBefore!
    expect(notBefore.getTime()).toBeGreaterThan(logoutAt.getTime() + 3_000_000)

    const html = await (await browser.get(`/console/users/${user.username}`)).text()
    const row = (label: string) => new RegExp(`<dt>${label}</dt><dd>([\\s\\S]*?)</dd>`).exec(html)?.[1] ?? ''
    expect(row('Logged out everywhere')).toContain(formatInstant(logoutAt))
    expect(row('Logged out everywhere')).not.toContain(formatInstant(notBefore))
    expect(row('Tokens rejected if issued before')).toContain(formatInstant(notBefore))
  })

  it('shows failed sign-ins with an unlock button, and unlocking is audited as the admin', async () => {
    const { browser, csrf, admin } = await signedInAdmin()
    const user = await insertTestUser(central.db.sql)
    const calm = await (await browser.get(`/console/users/${user.username}`)).text()
    expect(calm).not.toContain('/unlock')
    await central.db.sql`insert into login_attempts (key, failures, window_start) values
      (${usernameKey(user.username)}, 7, ${central.t.clock()}), (${usernameAndIpKey(user.username, '192.0.2.1')}, 5, ${central.t.clock()}),
      (${usernameAndIpKey(user.username, '192.0.2.2')}, 2, ${central.t.clock()})`
    const locked = await (await browser.get(`/console/users/${user.username}`)).text()
    expect(locked).toContain('7 in the current window, from 2 address(es)')
    expect(locked).toContain(`action="/console/users/${user.username}/unlock"`)

    const { response } = await browser.postConfirmed(`/console/users/${user.username}/unlock`, { _csrf: csrf })
    expect(response.status).toBe(303)
    expect(await (await browser.get(response.headers.get('Location')!)).text()).toContain('Failed sign-ins cleared (3 counter(s))')
    const [event] = await listAuditEvents(central.db.sql, { userId: user.id, type: 'user.unlocked' })
    expect(event).toMatchObject({ actor: `admin:${admin.username}`, details: { cleared: 3 } })
    // The same unlock is in the admin API's audit list.
    const audit = await central.t.app.request(`/admin/audit?type=user.unlocked&user=${user.username}`, { headers: bearer(TEST_ADMIN_TOKEN) })
    expect(audit.status).toBe(200)
  })
})
