import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { ADMIN_ROLE } from '../../../shared/access-token-claims'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer, edgeWouldReject, login, refresh } from '../../support/central-requests'
import { holdRowLock, waitsForALock } from '../../support/row-locks'
import { insertTestUser } from '../../support/users'

const PASSWORD = 'correct horse battery staple'
const FEED_TOKEN = 'edge-feed-token-0123456789abcdef'

const central = useCentralTestApp({ env: { EDGE_FEED_TOKEN: FEED_TOKEN } })

type Tokens = { access_token: string; refresh_token: string }
type Claims = { sub: string; iat: number; roles?: string[] }

describe('a refresh racing a change that removes a grant', () => {
  it('has the edge reject the token a refresh minted from the old grant while the change waited for its session lock', async () => {
    const { t, db } = central
    const user = await insertTestUser(db.sql, { password: PASSWORD, roles: [ADMIN_ROLE] })
    // Another console admin (with a password): the change below must not meet the last-admin rule.
    await insertTestUser(db.sql, { password: 'spare-admin-password', roles: [ADMIN_ROLE] })
    const response = await login(t, { username: user.username, password: PASSWORD })
    expect(response.status).toBe(200)
    const tokens = (await response.json()) as Tokens

    // Two outside locks pin the interleaving: the users row (the change waits before its
    // update) and the session row (the refresh statement has read the old grant in its
    // snapshot and waits for the row it rotates).
    const usersRow = holdRowLock(db.url, (tx) => tx`select 1 from users where id = ${user.id} for update`)
    const sessionId = (decodeJwt(tokens.access_token) as { sid: string }).sid
    const tokenRow = holdRowLock(db.url, (tx) => tx`select 1 from sessions where id = ${sessionId} for update`)
    await Promise.all([usersRow.locked, tokenRow.locked])

    // The admin's PATCH reads its `now` late in the login's second, then waits for the users row.
    t.clock.advance(0.9)
    const patchSecond = Math.floor(t.clock().getTime() / 1000)
    const change = t.app.request(`/admin/users/${user.username}`, {
      method: 'PATCH',
      headers: { ...bearer(TEST_ADMIN_TOKEN), 'Content-Type': 'application/json' },
      body: JSON.stringify({ remove: { roles: [ADMIN_ROLE] } }),
    })
    await expect.poll(() => waitsForALock(db.sql, 'for update'), { timeout: 10_000 }).toBe(true)

    // The next second: a refresh locks the session, reads the grant the change has not yet
    // committed, and is held before its commit.
    t.clock.advance(0.3)
    const raced = refresh(t, tokens.refresh_token)
    await expect.poll(() => waitsForALock(db.sql, 'update sessions s set'), { timeout: 10_000 }).toBe(true)

    // The change updates the user, then narrowUserSessions waits for the refresh's session lock.
    usersRow.release()
    await usersRow.done
    await expect.poll(() => waitsForALock(db.sql, 'update sessions set'), { timeout: 10_000 }).toBe(true)
    tokenRow.release()
    await tokenRow.done

    const racedResponse = await raced
    expect(racedResponse.status).toBe(200)
    const racedTokens = (await racedResponse.json()) as Tokens
    const changeResponse = await change
    expect(changeResponse.status).toBe(200)
    expect(await changeResponse.json()).toMatchObject({ sessions_narrowed: 1 })

    // The race happened: the token carries the removed role and an iat past the PATCH's second.
    const racedClaims = decodeJwt(racedTokens.access_token) as unknown as Claims
    expect(racedClaims.roles).toEqual([ADMIN_ROLE])
    expect(racedClaims.iat).toBe(patchSecond + 1)
    expect(await edgeWouldReject(t, FEED_TOKEN, racedTokens.access_token)).toBe(true)

    // Its client refreshes into a token without the role, which the edge accepts.
    t.clock.advance(1)
    const after = await refresh(t, racedTokens.refresh_token)
    expect(after.status).toBe(200)
    const afterTokens = (await after.json()) as Tokens
    expect((decodeJwt(afterTokens.access_token) as unknown as Claims).roles).toBeUndefined()
    expect(await edgeWouldReject(t, FEED_TOKEN, afterTokens.access_token)).toBe(false)
  })
})
