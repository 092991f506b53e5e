import { beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_ROLE } from '../../../shared/access-token-claims'
import { useCentralTestApp } from '../../support/central-app'
import { patchUser } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'
import { ConsoleBrowser } from '../console/console-support'

const PASSWORD = 'correct horse battery staple'
const CONSOLE_COOKIE = '__Host-portcullis-console'

const central = useCentralTestApp()
// Another admin, so disabling the admins these tests create never meets the last-admin rule.
beforeAll(() => insertTestUser(central.db.sql, { password: 'spare-admin-password', roles: [ADMIN_ROLE] }))


/** An admin signed in to the console; returns the console cookie value a thief would have copied. */
async function signedInConsoleCookie() {
  const user = await insertTestUser(central.db.sql, { password: PASSWORD, roles: [ADMIN_ROLE] })
  const browser = new ConsoleBrowser(central.t)
  expect((await browser.signIn(user.username, PASSWORD)).status).toBe(303)
  const cookie = browser.cookies.get(CONSOLE_COOKIE)!
  expect((await consoleWith(cookie)).status).toBe(200)
  return { user, cookie }
}

const consoleWith = (cookie: string) => central.t.app.request('/console/', { headers: { Cookie: `${CONSOLE_COOKIE}=${cookie}` } })

const consoleSessionCount = async (userId: string) =>
  (await central.db.sql<{ count: number }[]>`select count(*)::int as count from console_sessions where user_id = ${userId}`)[0]!.count

describe('changeUser and console sessions', () => {
  it('sends a console cookie signed in before a new password back to the sign-in page', async () => {
    const { user, cookie } = await signedInConsoleCookie()
    await patchUser(central.t, user.username, { password: 'a brand new long password 123' })
    const replay = await consoleWith(cookie)
    expect(replay.status).toBe(303)
    expect(replay.headers.get('Location')).toBe('/console/sign-in')
    expect(await consoleSessionCount(user.id)).toBe(0)
  })

  it('deletes the console sessions of a disabled user, so enabling them again does not bring the cookie back', async () => {
    const { user, cookie } = await signedInConsoleCookie()
    await patchUser(central.t, user.username, { enabled: false })
    expect(await consoleSessionCount(user.id)).toBe(0)
    await patchUser(central.t, user.username, { enabled: true })
    expect((await consoleWith(cookie)).status).toBe(303)
  })

  it('keeps the console session through a change that neither disables nor sets a password', async () => {
    const { user, cookie } = await signedInConsoleCookie()
    await patchUser(central.t, user.username, { remove: { scopes: ['write'] } })
    expect((await consoleWith(cookie)).status).toBe(200)
  })
})
