import { randomBytes } from 'node:crypto'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { deriveChainKey, generateRefreshToken } from '../../../central/sessions/refresh-token'
import { useCentralTestApp } from '../../support/central-app'
import { refresh } from '../../support/central-requests'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp({ env: { REFRESH_GRACE_SECONDS: '10' } })

/** A token in the current format naming `sid` at `generation`, with the last 16 bytes (the tag) as given. */
function tokenNaming(sid: string, generation: number, tag: Buffer): string {
  const body = Buffer.alloc(52)
  Buffer.from(sid.replaceAll('-', ''), 'hex').copy(body, 0)
  body.writeUInt32BE(generation, 16)
  randomBytes(32).copy(body, 20)
  return Buffer.concat([body, tag]).toString('base64url')
}

async function signInAndRotate(times: number) {
  const user = await insertTestUser(central.db.sql, { audiences: ['https://api.example.test'], scopes: ['read'] })
  const first = await startTestSession(central.t.deps, { user, actor: 'user' })
  const tokens = [first.refreshToken]
  for (let i = 0; i < times; i++) {
    const response = await refresh(central.t, tokens.at(-1)!)
    expect(response.status).toBe(200)
    tokens.push(((await response.json()) as { refresh_token: string }).refresh_token)
  }
  return { sid: first.sessionId, tokens }
}

const revokedAt = async (sid: string) =>
  (await central.db.sql<{ revoked_at: Date | null }[]>`select revoked_at from sessions where id = ${sid}`)[0]!.revoked_at

describe('reuse must be proven by a genuine earlier token', () => {
  it('does not revoke a session for someone who knows its sid but holds no token of it', async () => {
    const { sid, tokens } = await signInAndRotate(3)
    central.t.clock.advance(60)
    // The sid is public (every access token carries it); the forger tries every earlier position,
    // with a random tag and with the tag of one of their own tokens.
    const own = await signInAndRotate(0)
    const ownTag = Buffer.from(own.tokens[0]!, 'base64url').subarray(52)
    for (const generation of [0, 1, 2, 3, 4, 1000]) {
      for (const tag of [randomBytes(16), ownTag]) {
        const response = await refresh(central.t, tokenNaming(sid, generation, tag))
        expect(response.status).toBe(400)
        expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
      }
    }
    // Nor does a genuine token of another session, relabelled with this sid.
    const relabelled = Buffer.from(own.tokens[0]!, 'base64url')
    Buffer.from(sid.replaceAll('-', ''), 'hex').copy(relabelled, 0)
    expect((await refresh(central.t, relabelled.toString('base64url'))).status).toBe(400)
    // Nor a token tagged under another deployment's key.
    const foreign = generateRefreshToken(deriveChainKey('another-deployment-secret-0123456789'), sid, 1)
    expect((await refresh(central.t, foreign)).status).toBe(400)

    expect(await revokedAt(sid)).toBeNull()
    expect(await central.db.sql`select 1 from audit_events where event_type = 'session.reuse_detected' and session_id = ${sid}`).toHaveLength(0)
    const next = await refresh(central.t, tokens.at(-1)!)
    expect(next.status).toBe(200)
    expect(decodeJwt(((await next.json()) as { access_token: string }).access_token).sid).toBe(sid)
  })

  it('revokes the session when a genuine token two positions back is presented, without any old row', async () => {
    const { sid, tokens } = await signInAndRotate(3)
    const reuse = await refresh(central.t, tokens[1]!)
    expect(reuse.status).toBe(400)
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' })
    expect(await revokedAt(sid)).not.toBeNull()
    expect(await central.db.sql`select 1 from audit_events where event_type = 'session.reuse_detected' and session_id = ${sid}`).toHaveLength(1)
    expect((await refresh(central.t, tokens.at(-1)!)).status).toBe(400)
  })

  it('revokes the session when its very first token comes back after many rotations', async () => {
    const { sid, tokens } = await signInAndRotate(5)
    expect((await refresh(central.t, tokens[0]!)).status).toBe(400)
    expect(await revokedAt(sid)).not.toBeNull()
  })
})
