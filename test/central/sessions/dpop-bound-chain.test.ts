import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { InvalidGrant } from '../../../shared/errors'
import { refreshSession } from '../../../central/sessions/refresh-session'
import { useCentralTestApp } from '../../support/central-app'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp({ env: { REFRESH_GRACE_SECONDS: '10' } })
const KEY = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
const OTHER_KEY = 'oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U'

async function boundSession() {
  const user = await insertTestUser(central.db.sql, { audiences: ['https://api.example.test'], scopes: ['read'] })
  return startTestSession(central.t.deps, { user, actor: 'user', dpopJkt: KEY })
}

const refreshWith = (refreshToken: string, dpopJkt?: string) =>
  refreshSession(central.t.deps, { refreshToken, dpopJkt, ip: null, userAgent: null })

const sessionRow = async (sid: string) =>
  (await central.db.sql<{ revoked_at: Date | null; dpop_jkt: string | null; generation: number }[]>`
    select revoked_at, dpop_jkt, generation from sessions where id = ${sid}`)[0]!

describe('a refresh chain bound to a DPoP key (RFC 9449 §5)', () => {
  it('binds the session and its first access token to the key of the sign-in proof', async () => {
    const started = await boundSession()
    expect((await sessionRow(started.sessionId)).dpop_jkt).toBe(KEY)
    expect(started.confirmationJkt).toBe(KEY)
    expect(decodeJwt(started.accessToken).cnf).toEqual({ jkt: KEY })
  })

  it('refuses a refresh without a proof with invalid_grant, and neither rotates nor revokes', async () => {
    const started = await boundSession()
    await expect(refreshWith(started.refreshToken)).rejects.toThrow(InvalidGrant)
    expect(await sessionRow(started.sessionId)).toMatchObject({ revoked_at: null, generation: 0 })
  })

  it('refuses a refresh with a proof by another key, and neither rotates nor revokes', async () => {
    const started = await boundSession()
    await expect(refreshWith(started.refreshToken, OTHER_KEY)).rejects.toThrow(InvalidGrant)
    expect(await sessionRow(started.sessionId)).toMatchObject({ revoked_at: null, generation: 0 })
  })

  it('never counts an earlier token without the key as reuse', async () => {
    const started = await boundSession()
    const rotated = await refreshWith(started.refreshToken, KEY)
    central.t.clock.advance(60)
    await expect(refreshWith(started.refreshToken)).rejects.toThrow(InvalidGrant)
    await expect(refreshWith(started.refreshToken, OTHER_KEY)).rejects.toThrow(InvalidGrant)
    expect(await sessionRow(started.sessionId)).toMatchObject({ revoked_at: null, generation: 1 })
    expect((await refreshWith(rotated.refreshToken, KEY)).sessionId).toBe(started.sessionId)
  })

  it('rotates with a proof by the chain key and binds the new access token to it (cnf.jkt)', async () => {
    const started = await boundSession()
    const rotated = await refreshWith(started.refreshToken, KEY)
    expect(rotated.confirmationJkt).toBe(KEY)
    expect(decodeJwt(rotated.accessToken).cnf).toEqual({ jkt: KEY })
    expect(await sessionRow(started.sessionId)).toMatchObject({ revoked_at: null, generation: 1 })
    // A retry within the grace window gets the identical successor, still bound.
    const replayed = await refreshWith(started.refreshToken, KEY)
    expect(replayed.refreshToken).toBe(rotated.refreshToken)
    expect(decodeJwt(replayed.accessToken).cnf).toEqual({ jkt: KEY })
  })

  it('leaves an unbound chain unbound, binding only the access token of a request that sent a proof', async () => {
    const user = await insertTestUser(central.db.sql)
    const started = await startTestSession(central.t.deps, { user, actor: 'user' })
    expect(decodeJwt(started.accessToken).cnf).toBeUndefined()
    const withProof = await refreshWith(started.refreshToken, OTHER_KEY)
    expect(decodeJwt(withProof.accessToken).cnf).toEqual({ jkt: OTHER_KEY })
    const without = await refreshWith(withProof.refreshToken)
    expect(decodeJwt(without.accessToken).cnf).toBeUndefined()
    expect((await sessionRow(started.sessionId)).dpop_jkt).toBeNull()
  })
})
