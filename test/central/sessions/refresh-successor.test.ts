import { describe, expect, it } from 'vitest'
import { deriveChainKey, generateRefreshToken, newSuccessorSalt, parseRefreshToken, sealSuccessor, sha256RefreshToken, successorRefreshToken } from '../../../central/sessions/refresh-token'
import { useCentralTestApp } from '../../support/central-app'
import { refresh } from '../../support/central-requests'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp({ env: { REFRESH_GRACE_SECONDS: '10' } })
const sid = '6f1c1d3e-8a3b-4c5d-9e6f-0a1b2c3d4e5f'

describe('successorRefreshToken', () => {
  const key = deriveChainKey('successor-test-secret-0123456789abcdef')
  const presented = generateRefreshToken(key, sid, 3)
  const salt = newSuccessorSalt()
  // Bytes 20..51: after the session id and the generation, before the tag.
  const randomPart = (token: string) => Buffer.from(token, 'base64url').subarray(20, 52).toString('hex')

  it('is the same for the same predecessor and salt, so a retry gets the identical token', () => {
    expect(successorRefreshToken(key, presented, salt, sid, 4)).toBe(successorRefreshToken(key, presented, Buffer.from(salt), sid, 4))
  })

  it('is a genuine token of the next position of the chain', () => {
    const parsed = parseRefreshToken(successorRefreshToken(key, presented, salt, sid, 4), key)
    expect(parsed).toMatchObject({ kind: 'chained', sessionId: sid, generation: 4, genuine: true })
  })

  it('draws another random part for another predecessor, another salt and under another chain key', () => {
    const successor = randomPart(successorRefreshToken(key, presented, salt, sid, 4))
    expect(randomPart(successorRefreshToken(key, generateRefreshToken(key, sid, 3), salt, sid, 4))).not.toBe(successor)
    expect(randomPart(successorRefreshToken(key, presented, newSuccessorSalt(), sid, 4))).not.toBe(successor)
    expect(randomPart(successorRefreshToken(deriveChainKey('another-deployment-secret-0123456789'), presented, salt, sid, 4))).not.toBe(successor)
  })
})

/** Over HTTP: what a client that lost a refresh response gets when it retries within the grace window. */
describe('a retry of a spent token within the grace window', () => {
  const tokenOf = async (response: Response) => {
    expect(response.status).toBe(200)
    return ((await response.json()) as { refresh_token: string }).refresh_token
  }

  it('gets the successor it missed, identical, and the chain goes on from it', async () => {
    const user = await insertTestUser(central.db.sql)
    const { refreshToken: first } = await startTestSession(central.t.deps, { user, actor: 'user' })
    const second = await tokenOf(await refresh(central.t, first))
    central.t.clock.advance(2)
    expect(await tokenOf(await refresh(central.t, first))).toBe(second)
    const third = await tokenOf(await refresh(central.t, second))
    expect(third).not.toBe(second)
    expect(await tokenOf(await refresh(central.t, second))).toBe(third)
  })

  it('opens the sealed successor on a row the earlier release rotated last, then derives again', async () => {
    const user = await insertTestUser(central.db.sql)
    const { refreshToken: first, sessionId } = await startTestSession(central.t.deps, { user, actor: 'user' })
    await tokenOf(await refresh(central.t, first))
    // The earlier release drew the successor at random and kept it sealed under the presented token.
    const drawn = generateRefreshToken(central.t.deps.sessions.chainKey, sessionId, 1)
    await central.db.sql`
      update sessions set token_hash = ${sha256RefreshToken(drawn)}, successor_sealed = ${sealSuccessor(first, drawn, sessionId)}
      where id = ${sessionId}`
    expect(await tokenOf(await refresh(central.t, first))).toBe(drawn)
    const next = await tokenOf(await refresh(central.t, drawn))
    expect((await central.db.sql`select successor_sealed from sessions where id = ${sessionId}`)[0]!.successor_sealed).toBeNull()
    expect(await tokenOf(await refresh(central.t, drawn))).toBe(next)
  })

  it('keeps only the salt of the last rotation: with the chain key and the database, an older token leads nowhere', async () => {
    const user = await insertTestUser(central.db.sql)
    const { refreshToken: first, sessionId } = await startTestSession(central.t.deps, { user, actor: 'user' })
    const second = await tokenOf(await refresh(central.t, first))
    const third = await tokenOf(await refresh(central.t, second))
    const [row] = await central.db.sql<{ successor_salt: Buffer }[]>`select successor_salt from sessions where id = ${sessionId}`
    const { chainKey } = central.t.deps.sessions
    // The row's salt derives the current token from the previous one (what a retry needs)...
    expect(successorRefreshToken(chainKey, second, row!.successor_salt, sessionId, 2)).toBe(third)
    // ...but not the step before: that salt is gone.
    expect(successorRefreshToken(chainKey, first, row!.successor_salt, sessionId, 1)).not.toBe(second)
  })
})
