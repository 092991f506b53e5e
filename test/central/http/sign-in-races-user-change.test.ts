import { beforeAll, describe, expect, it, vi } from 'vitest'

/**
 * Holds the next password verification open after argon2 has answered, so a change to the user
 * can commit while a sign-in is between its password check and its session insert.
 */
const gate = vi.hoisted(() => ({ armed: false, reached: () => {}, release: Promise.resolve() }))
vi.mock('../../../central/users/passwords', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../central/users/passwords')>()
  return {
    ...real,
    verifyPassword: async (hash: string, password: string) => {
      const matches = await real.verifyPassword(hash, password)
      if (gate.armed) {
        gate.armed = false
        gate.reached()
        await gate.release
      }
      return matches
    },
  }
})

import { hashPassword } from '../../../central/users/passwords'
import { useCentralTestApp } from '../../support/central-app'
import { login, patchUser } from '../../support/central-requests'
import { waitsForALock } from '../../support/row-locks'
import { insertTestUser } from '../../support/users'
import { ConsoleBrowser } from '../console/console-support'

const OLD_PASSWORD = 'correct horse battery staple'
const NEW_PASSWORD = 'a brand new long password 123'
const ADMIN_ROLE = 'portcullis:admin'

const central = useCentralTestApp()
// Another admin, so disabling or demoting the admins these tests create never meets the last-admin rule.
beforeAll(() => insertTestUser(central.db.sql, { password: 'spare-admin-password', roles: [ADMIN_ROLE] }))

/** Runs `signIn` until its password has been verified, runs `change` to completion, then lets the sign-in finish. */
async function changeDuringSignIn<T>(signIn: () => Promise<T>, change: () => Promise<unknown>): Promise<T> {
  let release!: () => void
  gate.release = new Promise<void>((resolve) => (release = resolve))
  const reached = new Promise<void>((resolve) => (gate.reached = resolve))
  gate.armed = true
  const pending = signIn()
  try {
    // A sign-in that ends before its password check (throttled, say) fails here, not by timeout.
    await Promise.race([reached, pending.then(() => Promise.reject(new Error('the sign-in ended before its password was verified')))])
    await change()
  } finally {
    gate.armed = false
    release()
  }
  return pending
}

const liveSessions = (userId: string) => central.db.sql`select id from sessions where user_id = ${userId} and revoked_at is null`
const consoleSessions = (userId: string) => central.db.sql`select token_hash from console_sessions where user_id = ${userId}`

describe('POST /auth/login racing a change of its user', () => {
  it.each([
    ['a new password', { password: NEW_PASSWORD }],
    ['a disable', { enabled: false }],
  ])('refuses a login verified against the old password when %s committed meanwhile, as it refuses a wrong password', async (_, change) => {
    const user = await insertTestUser(central.db.sql, { password: OLD_PASSWORD })
    const raced = await changeDuringSignIn(
      () => login(central.t, { username: user.username, password: OLD_PASSWORD }),
      () => patchUser(central.t, user.username, change),
    )
    expect(raced.status).toBe(401)
    const wrongPassword = await login(central.t, { username: user.username, password: 'not the password at all' })
    expect(await raced.json()).toEqual(await wrongPassword.json())
    expect(await liveSessions(user.id)).toHaveLength(0)
  })

  it('lets the new password in after such a race', async () => {
    const user = await insertTestUser(central.db.sql, { password: OLD_PASSWORD })
    await changeDuringSignIn(
      () => login(central.t, { username: user.username, password: OLD_PASSWORD }),
      () => patchUser(central.t, user.username, { password: NEW_PASSWORD }),
    )
    expect((await login(central.t, { username: user.username, password: NEW_PASSWORD })).status).toBe(200)
  })
})

describe('console sign-in racing a change of its user', () => {
  /** Signs in with the old password while `change` commits; returns the answer and the browser. */
  async function raceSignIn(change: (username: string) => Promise<unknown>) {
    const user = await insertTestUser(central.db.sql, { password: OLD_PASSWORD, roles: [ADMIN_ROLE] })
    const browser = new ConsoleBrowser(central.t)
    const csrf = await browser.csrfFrom('/console/sign-in')
    const raced = await changeDuringSignIn(
      () => browser.post('/console/sign-in', { username: user.username, password: OLD_PASSWORD, _csrf: csrf }),
      () => change(user.username),
    )
    return { user, browser, raced }
  }

  async function expectFailedSignIn(raced: Response) {
    expect(raced.status).toBe(401)
    expect(await raced.text()).toContain('Sign-in failed')
  }

  it('gives no console session to a sign-in verified against the old password when a new password committed meanwhile', async () => {
    const { user, browser, raced } = await raceSignIn((username) => patchUser(central.t, username, { password: NEW_PASSWORD }))
    await expectFailedSignIn(raced)
    expect(await consoleSessions(user.id)).toHaveLength(0)
    const page = await browser.get('/console/')
    expect(page.status).toBe(303)
    expect(page.headers.get('Location')).toBe('/console/sign-in')
  })

  it('gives no console session to a sign-in whose user was disabled meanwhile, so re-enabling the user brings no cookie back', async () => {
    const { user, browser, raced } = await raceSignIn((username) => patchUser(central.t, username, { enabled: false }))
    await expectFailedSignIn(raced)
    expect(await consoleSessions(user.id)).toHaveLength(0)
    await patchUser(central.t, user.username, { enabled: true })
    expect((await browser.get('/console/')).status).toBe(303)
  })

  it('gives no console session to a sign-in whose user lost portcullis:admin meanwhile, so giving it back brings no cookie back', async () => {
    const { user, browser, raced } = await raceSignIn((username) => patchUser(central.t, username, { remove: { roles: [ADMIN_ROLE] } }))
    await expectFailedSignIn(raced)
    expect(await consoleSessions(user.id)).toHaveLength(0)
    await patchUser(central.t, user.username, { add: { roles: [ADMIN_ROLE] } })
    expect((await browser.get('/console/')).status).toBe(303)
  })

  it('waits for a password change that holds the user row, then refuses, instead of inserting before it commits', async () => {
    const user = await insertTestUser(central.db.sql, { password: OLD_PASSWORD, roles: [ADMIN_ROLE] })
    const browser = new ConsoleBrowser(central.t)
    const csrf = await browser.csrfFrom('/console/sign-in')
    const newHash = await hashPassword(NEW_PASSWORD)
    let signIn!: Promise<Response>
    // What changeUser does for a new password: users row `for update`, new hash, console sessions deleted, commit.
    await central.db.sql.begin(async (tx) => {
      await tx`update users set password_hash = ${newHash} where id = ${user.id}`
      await tx`delete from console_sessions where user_id = ${user.id}`
      signIn = browser.post('/console/sign-in', { username: user.username, password: OLD_PASSWORD, _csrf: csrf })
      await expect.poll(() => waitsForALock(central.db.sql), { timeout: 10_000 }).toBe(true)
    })
    await expectFailedSignIn(await signIn)
    expect(await consoleSessions(user.id)).toHaveLength(0)
  })
})
