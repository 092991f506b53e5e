import { describe, expect, it } from 'vitest'
import { listAuditEvents } from '../../../central/audit/store'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer, login } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'

const PASSWORD = 'correct horse battery staple'

// Small limits so the tests stay short: 3 per username and address, a ceiling of 8 per username.
const central = useCentralTestApp({
  env: { TRUST_PROXY: 'true', LOGIN_MAX_FAILURES_PER_USERNAME_AND_IP: '3', LOGIN_MAX_FAILURES_PER_USERNAME: '8', LOGIN_MAX_FAILURES_PER_IP: '100' },
})

const loginFrom = (ip: string, username: string, password: string) => login(central.t, { username, password }, { 'X-Forwarded-For': ip })
const unlock = (username: string) =>
  central.t.app.request(`/admin/users/${username}/login-failures`, { method: 'DELETE', headers: bearer(TEST_ADMIN_TOKEN) })

describe('login lockout that strangers cannot impose', () => {
  it("does not lock the owner out at their address because of a stranger's failures at another", async () => {
    const owner = await insertTestUser(central.db.sql, { password: PASSWORD })
    const stranger: number[] = []
    for (let i = 0; i < 5; i++) stranger.push((await loginFrom('198.51.100.66', owner.username, `guess-${i}`)).status)
    expect(stranger).toEqual([401, 401, 401, 429, 429])
    // Even the right password is refused at the stranger's address: that is the guesser's budget.
    expect((await loginFrom('198.51.100.66', owner.username, PASSWORD)).status).toBe(429)
    expect((await loginFrom('203.0.113.10', owner.username, PASSWORD)).status).toBe(200)
  })

  it('still stops guessing spread over many addresses at the per-username ceiling, even with the right password', async () => {
    const owner = await insertTestUser(central.db.sql, { password: PASSWORD })
    for (let i = 0; i < 8; i++) expect((await loginFrom(`192.0.2.${i + 1}`, owner.username, 'wrong password')).status).toBe(401)
    const refused = await loginFrom('203.0.113.10', owner.username, PASSWORD)
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0)
    expect(await refused.json()).toMatchObject({ error_description: expect.stringContaining('for this username') })
  })

  it('is cleared by an admin unlock, which is audited, and the owner signs in at once', async () => {
    const owner = await insertTestUser(central.db.sql, { password: PASSWORD })
    for (let i = 0; i < 8; i++) await loginFrom(`192.0.2.${i + 1}`, owner.username, 'wrong password')
    expect((await loginFrom('203.0.113.10', owner.username, PASSWORD)).status).toBe(429)

    const response = await unlock(owner.username)
    expect(response.status).toBe(200)
    const { cleared } = (await response.json()) as { cleared: number }
    expect(cleared).toBeGreaterThanOrEqual(9) // the username's ceiling and each address's count of it
    const [event] = await listAuditEvents(central.db.sql, { userId: owner.id, type: 'user.unlocked' })
    expect(event).toMatchObject({ actor: 'admin:api', details: { cleared } })

    expect((await loginFrom('203.0.113.10', owner.username, PASSWORD)).status).toBe(200)
    // An address's own count (about whoever sends from it) is not the user's to clear.
    const [address] = await central.db.sql<{ failures: number }[]>`select failures from login_attempts where key = 'ip:192.0.2.1'`
    expect(address?.failures).toBeGreaterThan(0)
  })

  it('answers unlock of an unknown username with 404, and of a user with nothing to clear with cleared: 0', async () => {
    expect((await unlock('nobody-at-all')).status).toBe(404)
    const calm = await insertTestUser(central.db.sql, { password: PASSWORD })
    const response = await unlock(calm.username)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ cleared: 0 })
  })
})
