import { beforeAll, describe, expect, it } from 'vitest'
import { generateRefreshToken, hashRefreshToken } from '../../../central/sessions/refresh-token'
import { applyRotation, findRefreshTokenByHash, lockSessionByTokenHash, type Rotation } from '../../../central/sessions/store'
import { useCentralTestApp } from '../../support/central-app'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp()

const successorsOf = (tokenHash: Buffer) =>
  central.db.sql<{ successor_id: string | null; rotated_at: Date | null }[]>`
    select successor_id::text, rotated_at from refresh_tokens where token_hash = ${tokenHash}`

/**
 * applyRotation without the session lock: its WHERE clause alone must stop a second spend of the
 * same token, so a bypassed lock can never fork a refresh chain (RFC 6749 §10.4).
 */
describe('applyRotation', () => {
  let tokenHash: Buffer
  let rotation: (now: Date) => Promise<Rotation>
  beforeAll(async () => {
    const user = await insertTestUser(central.db.sql)
    const tokens = await startTestSession(central.t.deps, { user, actor: 'user' })
    tokenHash = hashRefreshToken(tokens.refreshToken)
    rotation = async (now) => {
      const session = await lockSessionByTokenHash(central.db.sql, tokenHash)
      const token = await findRefreshTokenByHash(central.db.sql, tokenHash)
      return {
        tokenId: token!.id,
        session: session!,
        successorHash: hashRefreshToken(generateRefreshToken()),
        successorSealed: Buffer.from('sealed'),
        now,
        idleExpiresAt: new Date(now.getTime() + 3600_000),
        ip: null,
        userAgent: null,
      }
    }
  })

  it('spends a fresh token once and records its successor', async () => {
    expect(await applyRotation(central.db.sql, await rotation(central.t.clock()))).toBe(true)
    const [row] = await successorsOf(tokenHash)
    expect(row!.successor_id).not.toBeNull()
  })

  it('returns false for a token already rotated and leaves its successor as it was (the chain does not fork)', async () => {
    const [before] = await successorsOf(tokenHash)
    const again = await rotation(new Date(central.t.clock().getTime() + 1000))
    const spent = await applyRotation(central.db.sql, again)
    expect(spent).toBe(false)
    expect(await successorsOf(tokenHash)).toEqual([before])
  })
})
