import { beforeAll, describe, expect, it } from 'vitest'
import { generateRefreshToken, parseRefreshToken, sha256RefreshToken } from '../../../central/sessions/refresh-token'
import { refreshSessionRow, type RefreshAttempt } from '../../../central/sessions/store'
import { useCentralTestApp } from '../../support/central-app'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp()

/**
 * The refresh statement on its own, without refreshSession around it: its WHERE clause alone must
 * stop a second spend of the same token, so no caller can fork a refresh chain (RFC 6749 §10.4).
 */
describe('refreshSessionRow', () => {
  let attempt: (successor: string) => RefreshAttempt
  let sessionId: string
  beforeAll(async () => {
    const user = await insertTestUser(central.db.sql)
    const tokens = await startTestSession(central.t.deps, { user, actor: 'user' })
    sessionId = tokens.sessionId
    const presented = parseRefreshToken(tokens.refreshToken, central.t.deps.sessions.chainKey)
    if (presented?.kind !== 'chained') throw new Error('a new session has a chained token')
    attempt = (successor) => {
      const now = central.t.clock()
      return {
        sessionId, tokenHash: presented.tokenHash, generation: 0, clientId: 'web', clientCheck: { kind: 'established' }, dpopJkt: null, resource: null, scopes: null,
        successorHash: sha256RefreshToken(successor), successorSalt: Buffer.alloc(16), now, idleUntil: new Date(now.getTime() + 3600_000),
        ip: null, userAgent: null, recordEvent: true,
      }
    }
  })

  it('spends the current token once and keeps the successor on the row', async () => {
    const successor = generateRefreshToken(central.t.deps.sessions.chainKey, sessionId, 1)
    const result = await refreshSessionRow(central.db.sql, attempt(successor))
    expect(result.kind).toBe('rotated')
    expect(result.session?.chain.tokenHash).toEqual(sha256RefreshToken(successor))
    expect(result.session?.chain.generation).toBe(1)
  })

  it('changes nothing for the token it already spent, so the chain does not fork', async () => {
    const [before] = await central.db.sql`select token_hash, generation, previous_token_hash from sessions where id = ${sessionId}`
    const again = await refreshSessionRow(central.db.sql, attempt(generateRefreshToken(central.t.deps.sessions.chainKey, sessionId, 1)))
    expect(again.kind).toBe('unchanged')
    expect(await central.db.sql`select token_hash, generation, previous_token_hash from sessions where id = ${sessionId}`).toEqual([before])
  })
})
