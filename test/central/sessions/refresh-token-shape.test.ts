import { describe, expect, it } from 'vitest'
import { generateRefreshToken, MAX_REFRESH_TOKEN_GENERATION } from '../../../central/sessions/refresh-token'
import { useCentralTestApp } from '../../support/central-app'
import { refresh } from '../../support/central-requests'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp({ env: { REFRESH_GRACE_SECONDS: '10' } })

async function signIn() {
  const user = await insertTestUser(central.db.sql, { audiences: ['https://api.example.test'], scopes: ['read'] })
  return await startTestSession(central.t.deps, { user, actor: 'user' })
}

/** The same bytes under another base64url spelling: the last character's unused low bits set. */
function otherSpelling(token: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(token.at(-1)!)
  return token.slice(0, -1) + alphabet[(last & ~0b11) | (~last & 0b11)]!
}

const revokedAt = async (sid: string) =>
  (await central.db.sql<{ revoked_at: Date | null }[]>`select revoked_at from sessions where id = ${sid}`)[0]!.revoked_at

describe('refresh tokens central could not have issued', () => {
  for (const generation of [MAX_REFRESH_TOKEN_GENERATION + 1, 2 ** 31, 0xffffffff]) {
    it(`answers invalid_grant for a tagged token at generation ${generation}, past what the session row can hold`, async () => {
      const { sessionId } = await signIn()
      const token = generateRefreshToken(central.t.deps.sessions.chainKey, sessionId, generation)
      const response = await refresh(central.t, token)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
      expect(await revokedAt(sessionId)).toBeNull()
    })
  }

  it('refuses another spelling of the previous token as unknown instead of treating it as reuse', async () => {
    const first = await signIn()
    const rotated = await refresh(central.t, first.refreshToken)
    expect(rotated.status).toBe(200)
    const spelled = otherSpelling(first.refreshToken)
    expect(Buffer.from(spelled, 'base64url').equals(Buffer.from(first.refreshToken, 'base64url'))).toBe(true)
    const response = await refresh(central.t, spelled)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_grant', error_description: 'refresh token is not valid' })
    expect(await revokedAt(first.sessionId)).toBeNull()
  })

  it('refuses another spelling of the current token and leaves the token usable', async () => {
    const first = await signIn()
    const response = await refresh(central.t, otherSpelling(first.refreshToken))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await refresh(central.t, first.refreshToken)).status).toBe(200)
  })
})
