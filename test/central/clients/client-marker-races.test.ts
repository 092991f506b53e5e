import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer } from '../../support/central-requests'
import { holdRowLock, waitsForALock } from '../../support/row-locks'

const central = useCentralTestApp()

let counter = 0
async function registerMachineClient(): Promise<{ clientId: string; secret: string }> {
  const clientId = `race-${++counter}`
  const response = await central.t.app.request('/admin/clients', {
    method: 'POST',
    headers: { ...bearer(TEST_ADMIN_TOKEN), 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_id: clientId, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'], audiences: ['orders'] }),
  })
  expect(response.status).toBe(201)
  return { clientId, secret: ((await response.json()) as { client_secret: string }).client_secret }
}

function requestToken(client: { clientId: string; secret: string }) {
  return central.t.app.request('/oauth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret }).toString(),
  })
}

const notBeforeOf = async (clientId: string) =>
  (await central.db.sql<{ not_before: Date }[]>`select not_before from oauth_clients where client_id = ${clientId}`)[0]!.not_before

describe('a client change racing the token endpoint', () => {
  it('refuses a token whose client was disabled after it authenticated and before it was signed', async () => {
    const { db, t } = central
    const client = await registerMachineClient()
    // A disable in flight: its update holds the row, uncommitted, while the request authenticates
    // against the committed (enabled) row.
    const disabling = holdRowLock(db.url, (tx) => tx`
      update oauth_clients set enabled = false, not_before = ${new Date(t.clock().getTime() + 1000)}, updated_at = ${t.clock()}
      where client_id = ${client.clientId}`)
    await disabling.locked
    const raced = requestToken(client)
    await expect.poll(() => waitsForALock(db.sql, 'for share'), { timeout: 10_000 }).toBe(true)
    disabling.release()
    await disabling.done
    const response = await raced
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
  })

  it('takes the marker of a disable that waited for an issuing token endpoint past that token\'s iat', async () => {
    const { db, t } = central
    const client = await registerMachineClient()
    // An issuing token endpoint holds the row share-locked while it signs.
    const issuing = holdRowLock(db.url, (tx) => tx`select 1 from oauth_clients where client_id = ${client.clientId} for share`)
    await issuing.locked
    const disable = t.app.request(`/admin/clients/${client.clientId}/disable`, { method: 'POST', headers: bearer(TEST_ADMIN_TOKEN) })
    await expect.poll(() => waitsForALock(db.sql, 'for update'), { timeout: 10_000 }).toBe(true)
    // The token it signs meanwhile is stamped a second and a bit after the disable was asked for.
    t.clock.advance(1.2)
    const tokenIat = Math.floor(t.clock().getTime() / 1000)
    issuing.release()
    await issuing.done
    expect((await disable).status).toBe(200)
    // The edge drops iat < not_before.
    expect((await notBeforeOf(client.clientId)).getTime() / 1000).toBeGreaterThan(tokenIat)
  })

  it('mints a token after a secret rotation no earlier than the rotation marker', async () => {
    const { t } = central
    const client = await registerMachineClient()
    const rotated = await t.app.request(`/admin/clients/${client.clientId}/rotate-secret`, { method: 'POST', headers: bearer(TEST_ADMIN_TOKEN) })
    expect(rotated.status).toBe(200)
    const secret = ((await rotated.json()) as { client_secret: string }).client_secret
    const response = await requestToken({ clientId: client.clientId, secret })
    expect(response.status).toBe(200)
    const { iat } = decodeJwt(((await response.json()) as { access_token: string }).access_token)
    expect(iat! * 1000).toBeGreaterThanOrEqual((await notBeforeOf(client.clientId)).getTime())
  })

  it('puts a token minted between two changes in the same second below the second change\'s marker', async () => {
    const { t } = central
    const client = await registerMachineClient()
    const tokenOf = async (response: Response) => ((await response.json()) as { access_token: string }).access_token
    t.clock.advance(0.1)
    // The client revokes its own token (RFC 7009): its marker moves to the next second...
    const revoked = await t.app.request('/oauth/revoke', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: await tokenOf(await requestToken(client)), client_id: client.clientId, client_secret: client.secret }).toString(),
    })
    expect(revoked.status).toBe(200)
    // ...so a token minted now is stamped with that second, and an admin disables the client within it.
    const kept = await tokenOf(await requestToken(client))
    t.clock.advance(0.5)
    expect((await t.app.request(`/admin/clients/${client.clientId}/disable`, { method: 'POST', headers: bearer(TEST_ADMIN_TOKEN) })).status).toBe(200)
    // The edge drops iat < not_before.
    expect(decodeJwt(kept).iat!).toBeLessThan((await notBeforeOf(client.clientId)).getTime() / 1000)
  })
})
