import { describe, expect, it } from 'vitest'
import { sha256RefreshToken } from '../../../central/sessions/refresh-token'
import { useCentralTestApp } from '../../support/central-app'
import { login, refresh } from '../../support/central-requests'
import { insertTestUser } from '../../support/users'

const PASSWORD = 'correct horse battery staple'

const central = useCentralTestApp()

/**
 * changeUser revokes every session when it disables a user, so a refresh of a disabled user
 * normally meets a revoked session. The refresh checks `enabled` itself, under the session lock,
 * for any path that disables without revoking first (a direct SQL fix-up, a future code path).
 */
describe('POST /oauth/token for a disabled user whose session was not revoked', () => {
  it('refuses with invalid_grant and issues no new token', async () => {
    const user = await insertTestUser(central.db.sql, { password: PASSWORD })
    const signedIn = await login(central.t, { username: user.username, password: PASSWORD })
    expect(signedIn.status).toBe(200)
    const { refresh_token: refreshToken } = (await signedIn.json()) as { refresh_token: string }
    await central.db.sql`update users set enabled = false where id = ${user.id}`

    const response = await refresh(central.t, refreshToken)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
    const chains = await central.db.sql<{ token_hash: Buffer; generation: number }[]>`
      select token_hash, generation from sessions where user_id = ${user.id}`
    expect(chains).toEqual([{ token_hash: sha256RefreshToken(refreshToken), generation: 0 }])
  })
})
