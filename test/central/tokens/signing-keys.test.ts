import { decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../central/config'
import { createPool } from '../../../central/db/pool'
import { mintAccessToken } from '../../../central/tokens/mint-access-token'
import {
  ensureSigningKeys,
  getPublishedJwks,
  getSigningKey,
  listSigningKeys,
  rotateSigningKey,
} from '../../../central/tokens/signing-keys'
import { verifyAccessToken } from '../../../central/tokens/verify-access-token'
import { Conflict, InvalidToken } from '../../../shared/errors'
import { controllableClock } from '../../support/central-app'
import { createTestDatabase, type TestDatabase } from '../../support/database'

const config = loadConfig({ ACCESS_TOKEN_TTL_SECONDS: '900', CLOCK_TOLERANCE_SECONDS: '30', KEY_PUBLISH_AHEAD_SECONDS: '3600', KEY_ENCRYPTION_SECRET: 'k'.repeat(40) })
const grant = { userId: '00000000-0000-0000-0000-000000000001', sessionId: '00000000-0000-0000-0000-000000000002', clientId: 'web', audiences: ['a'], scopes: [], roles: [] }

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

describe('signing keys', () => {
  it('creates exactly one first key when two instances start at once', async () => {
    const fresh = await createTestDatabase()
    const pools = [createPool(fresh.url), createPool(fresh.url)]
    try {
      const now = new Date()
      await Promise.all(pools.map((sql) => ensureSigningKeys(sql, config, now)))
      await ensureSigningKeys(pools[0]!, config, now)
      const keys = await listSigningKeys(fresh.sql, now)
      expect(keys).toHaveLength(1)
      expect(keys[0]).toMatchObject({ alg: 'ES256', state: 'active', published: true })
    } finally {
      await Promise.all(pools.map((sql) => sql.end()))
      await fresh.drop()
    }
  })

  it('stores the private key only encrypted, and a different secret cannot open it', async () => {
    const fresh = await createTestDatabase()
    try {
      const now = new Date()
      await ensureSigningKeys(fresh.sql, config, now)
      const [row] = await fresh.sql<{ private_jwk_sealed: Buffer; public_jwk: { x: string } }[]>`select private_jwk_sealed, public_jwk from signing_keys`
      const text = row!.private_jwk_sealed.toString('latin1')
      expect(text).not.toContain('"d"')
      expect(text).not.toContain(row!.public_jwk.x)
      const otherSecret = loadConfig({ KEY_ENCRYPTION_SECRET: 'z'.repeat(40) })
      const otherPool = createPool(fresh.url)
      try {
        await expect(getSigningKey(otherPool, otherSecret, now)).rejects.toThrow()
        await expect(getSigningKey(fresh.sql, config, now)).resolves.toMatchObject({ kid: expect.any(String) })
      } finally {
        await otherPool.end()
      }
    } finally {
      await fresh.drop()
    }
  })

  it('publishes a rotated key before it signs and keeps the old key published until its tokens expire', async () => {
    const clock = controllableClock()
    await ensureSigningKeys(db.sql, config, clock())
    const [original] = await listSigningKeys(db.sql, clock())
    const { kid: nextKid, activatesAt } = await rotateSigningKey(db.sql, config, clock(), 'admin:test')
    expect(activatesAt.getTime()).toBe(clock().getTime() + 3600_000)

    // Published at once, but the old key still signs.
    const published = (await getPublishedJwks(db.sql, clock())).keys.map((k) => k.kid)
    expect(published).toEqual(expect.arrayContaining([original!.kid, nextKid]))
    const before = await mintAccessToken({ config, signingKey: await getSigningKey(db.sql, config, clock()) }, grant, clock())
    expect(decodeProtectedHeader(before.accessToken).kid).toBe(original!.kid)
    expect((await listSigningKeys(db.sql, clock())).map((k) => [k.kid, k.state])).toEqual(
      expect.arrayContaining([[original!.kid, 'active'], [nextKid, 'next']]),
    )

    // After the publish-ahead period the new key signs; the old one stays published.
    clock.advance(3600)
    const after = await mintAccessToken({ config, signingKey: await getSigningKey(db.sql, config, clock()) }, grant, clock())
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(nextKid)
    expect((await getPublishedJwks(db.sql, clock())).keys.map((k) => k.kid)).toContain(original!.kid)

    // Just before the last old token (TTL + clock tolerance) can be accepted: still published.
    clock.advance(900 + 30 - 1)
    expect((await getPublishedJwks(db.sql, clock())).keys.map((k) => k.kid)).toContain(original!.kid)
    clock.advance(2)
    const finalKeys = (await getPublishedJwks(db.sql, clock())).keys.map((k) => k.kid)
    expect(finalKeys).toEqual([nextKid])
    const states = await listSigningKeys(db.sql, clock())
    expect(states.find((k) => k.kid === original!.kid)).toMatchObject({ state: 'retired', published: false })
  })

  it('refuses a second rotation while a key is still waiting to sign', async () => {
    const clock = controllableClock(new Date(Date.now() + 30 * 24 * 3600_000))
    await rotateSigningKey(db.sql, config, clock(), 'admin:test')
    await expect(rotateSigningKey(db.sql, config, clock(), 'admin:test')).rejects.toBeInstanceOf(Conflict)
  })

  it('records key creation and retirement in the audit trail with the actor', async () => {
    const events = await db.sql<{ event_type: string; actor: string }[]>`
      select event_type, actor from audit_events where event_type like 'key.%' and actor = 'admin:test'`
    expect(events.map((e) => e.event_type)).toEqual(expect.arrayContaining(['key.created', 'key.retired']))
  })

  describe('emergency rotation (immediate)', () => {
    const kidOf = async (sql: TestDatabase['sql'], at: Date) =>
      decodeProtectedHeader((await mintAccessToken({ config, signingKey: await getSigningKey(sql, config, at) }, grant, at)).accessToken).kid
    const publishedKids = async (sql: TestDatabase['sql'], at: Date) => (await getPublishedJwks(sql, at)).keys.map((k) => k.kid)

    it('signs with the new key at once and keeps the retired key published until its tokens expire', async () => {
      const fresh = await createTestDatabase()
      try {
        const clock = controllableClock()
        await ensureSigningKeys(fresh.sql, config, clock())
        const [leaked] = await listSigningKeys(fresh.sql, clock())
        const rotated = await rotateSigningKey(fresh.sql, config, clock(), 'admin:test', { immediate: true })

        expect(rotated.activatesAt).toEqual(clock())
        expect(await kidOf(fresh.sql, clock())).toBe(rotated.kid)
        // Retired now; published for the token lifetime + tolerance, counted from when the
        // slowest central instance (10 s key cache) has stopped signing with it.
        const unpublishAt = new Date(+clock() + (10 + 900 + 30) * 1000)
        expect(rotated.retired).toEqual([{ kid: leaked!.kid, retiredAt: clock(), unpublishAt }])
        expect(await publishedKids(fresh.sql, clock())).toEqual(expect.arrayContaining([leaked!.kid, rotated.kid]))
        clock.advance(10 + 900 + 30 - 1)
        expect(await publishedKids(fresh.sql, clock())).toContain(leaked!.kid)
        clock.advance(1)
        expect(await publishedKids(fresh.sql, clock())).toEqual([rotated.kid])
      } finally {
        await fresh.drop()
      }
    })

    it('is allowed while a key waits to sign, and withdraws that key so it never signs', async () => {
      const fresh = await createTestDatabase()
      try {
        const clock = controllableClock()
        await ensureSigningKeys(fresh.sql, config, clock())
        const scheduled = await rotateSigningKey(fresh.sql, config, clock(), 'admin:test')
        const rotated = await rotateSigningKey(fresh.sql, config, clock(), 'admin:test', { immediate: true })

        const states = await listSigningKeys(fresh.sql, clock())
        expect(states.find((k) => k.kid === scheduled.kid)).toMatchObject({ state: 'retired', published: false })
        expect(states.find((k) => k.kid === rotated.kid)).toMatchObject({ state: 'active', published: true })
        expect(await publishedKids(fresh.sql, clock())).not.toContain(scheduled.kid)
        // Past the withdrawn key's planned activation the emergency key still signs.
        clock.advance(3600 + 1)
        expect(await kidOf(fresh.sql, clock())).toBe(rotated.kid)
        expect((await listSigningKeys(fresh.sql, clock())).find((k) => k.kid === scheduled.kid)).toMatchObject({ state: 'retired' })
      } finally {
        await fresh.drop()
      }
    })

    it('with revokePrevious unpublishes the signing key and every still-published retired key at once', async () => {
      const fresh = await createTestDatabase()
      try {
        const clock = controllableClock()
        await ensureSigningKeys(fresh.sql, config, clock())
        const [first] = await listSigningKeys(fresh.sql, clock())
        const second = await rotateSigningKey(fresh.sql, config, clock(), 'admin:test')
        clock.advance(3600 + 60) // second signs; first retired but still published
        expect(await publishedKids(fresh.sql, clock())).toEqual(expect.arrayContaining([first!.kid, second.kid]))
        const oldToken = await mintAccessToken({ config, signingKey: await getSigningKey(fresh.sql, config, clock()) }, grant, clock())
        expect(decodeProtectedHeader(oldToken.accessToken).kid).toBe(second.kid)
        // Verified once before the rotation, so the process's cached key set holds the old key…
        await expect(verifyAccessToken({ sql: fresh.sql, config }, oldToken.accessToken, clock())).resolves.toMatchObject({ sid: grant.sessionId })

        const rotated = await rotateSigningKey(fresh.sql, config, clock(), 'admin:test', { immediate: true, revokePrevious: true })

        expect(await publishedKids(fresh.sql, clock())).toEqual([rotated.kid])
        expect(rotated.retired.map((k) => k.kid).sort()).toEqual([first!.kid, second.kid].sort())
        expect(rotated.retired.every((k) => +k.unpublishAt === +clock())).toBe(true)
        // …and the rotation's new key list replaces it.
        await expect(verifyAccessToken({ sql: fresh.sql, config }, oldToken.accessToken, clock())).rejects.toBeInstanceOf(InvalidToken)
        const newToken = await mintAccessToken({ config, signingKey: await getSigningKey(fresh.sql, config, clock()) }, grant, clock())
        await expect(verifyAccessToken({ sql: fresh.sql, config }, newToken.accessToken, clock())).resolves.toMatchObject({ sid: grant.sessionId })
      } finally {
        await fresh.drop()
      }
    })

    it('ignores revokePrevious without immediate, keeping the overlap path', async () => {
      const fresh = await createTestDatabase()
      try {
        const clock = controllableClock()
        await ensureSigningKeys(fresh.sql, config, clock())
        const [current] = await listSigningKeys(fresh.sql, clock())
        const rotated = await rotateSigningKey(fresh.sql, config, clock(), 'admin:test', { revokePrevious: true })
        expect(rotated.activatesAt.getTime()).toBe(clock().getTime() + 3600_000)
        expect(await publishedKids(fresh.sql, clock())).toEqual(expect.arrayContaining([current!.kid, rotated.kid]))
        expect(await kidOf(fresh.sql, clock())).toBe(current!.kid)
      } finally {
        await fresh.drop()
      }
    })

    it('audits the emergency, the retirement and each unpublished key with the actor and reason', async () => {
      const fresh = await createTestDatabase()
      try {
        const clock = controllableClock()
        await ensureSigningKeys(fresh.sql, config, clock())
        const [leaked] = await listSigningKeys(fresh.sql, clock())
        const rotated = await rotateSigningKey(fresh.sql, config, clock(), 'admin:ops', { immediate: true, revokePrevious: true })
        const events = await fresh.sql<{ event_type: string; actor: string; reason: string; details: { kid: string } }[]>`
          select event_type, actor, reason, details from audit_events where actor = 'admin:ops' order by id`
        expect(events.map((e) => [e.event_type, e.details.kid])).toEqual([
          ['key.created', rotated.kid],
          ['key.retired', leaked!.kid],
          ['key.unpublished', leaked!.kid],
        ])
        expect(events.every((e) => e.reason === 'emergency rotation, previous keys revoked')).toBe(true)
      } finally {
        await fresh.drop()
      }
    })
  })
})
