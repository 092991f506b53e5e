import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { purgeDeletedClients } from '../../../central/clients/store'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer, login, refresh } from '../../support/central-requests'
import { insertTestUser, type TestUser } from '../../support/users'

const PASSWORD = 'correct horse battery staple'
const central = useCentralTestApp()

let user: TestUser
beforeAll(async () => {
  user = await insertTestUser(central.db.sql, { password: PASSWORD })
})

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return await central.t.app.request(path, {
    method,
    headers: { ...bearer(TEST_ADMIN_TOKEN), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

async function registerPublicClient(clientId: string) {
  const response = await admin('POST', '/admin/clients', { client_id: clientId, token_endpoint_auth_method: 'none', grant_types: ['password', 'refresh_token'] })
  expect(response.status, await response.clone().text()).toBe(201)
}

async function signInThrough(clientId: string): Promise<{ refreshToken: string; sessionId: string }> {
  const response = await login(central.t, { username: user.username, password: PASSWORD, client_id: clientId })
  expect(response.status, await response.clone().text()).toBe(200)
  const body = (await response.json()) as { refresh_token: string; access_token: string }
  const sid = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()).sid as string
  return { refreshToken: body.refresh_token, sessionId: sid }
}

const revokedAt = async (sid: string) =>
  (await central.db.sql<{ revoked_at: Date | null }[]>`select revoked_at from sessions where id = ${sid}`)[0]!.revoked_at

describe('a deleted client id', () => {
  it('ends the sessions started through the client, and answers invalid_client for the id at refresh and login', async () => {
    await registerPublicClient('kiosk-app')
    const { refreshToken, sessionId } = await signInThrough('kiosk-app')
    expect((await admin('DELETE', '/admin/clients/kiosk-app')).status).toBe(204)
    expect(await revokedAt(sessionId)).not.toBeNull()

    const refreshed = await refresh(central.t, refreshToken, { client_id: 'kiosk-app' })
    expect(refreshed.status).toBe(401)
    expect(await refreshed.json()).toMatchObject({ error: 'invalid_client' })
    const again = await login(central.t, { username: user.username, password: PASSWORD, client_id: 'kiosk-app' })
    expect(again.status).toBe(401)
    expect(await again.json()).toMatchObject({ error: 'invalid_client' })
  })

  it('stays unusable as an implicit client after the retention purge, until an admin registers it again', async () => {
    await registerPublicClient('retired-app')
    expect((await admin('DELETE', '/admin/clients/retired-app')).status).toBe(204)
    expect(await purgeDeletedClients(central.db.sql, new Date(central.t.clock().getTime() + 3_600_000))).toBeGreaterThanOrEqual(1)
    const implicit = await login(central.t, { username: user.username, password: PASSWORD, client_id: 'retired-app' })
    expect(implicit.status).toBe(401)
    expect(await implicit.json()).toMatchObject({ error: 'invalid_client' })
    await registerPublicClient('retired-app')
    await signInThrough('retired-app')
  })
})

describe('a disabled client', () => {
  it('ends the sessions started through it, so enabling it again revives none', async () => {
    await registerPublicClient('paused-app')
    const { refreshToken, sessionId } = await signInThrough('paused-app')
    expect((await admin('POST', '/admin/clients/paused-app/disable')).status).toBe(200)
    expect(await revokedAt(sessionId)).not.toBeNull()
    expect((await admin('PATCH', '/admin/clients/paused-app', { enabled: true })).status).toBe(200)
    const refreshed = await refresh(central.t, refreshToken, { client_id: 'paused-app' })
    expect(refreshed.status).toBe(400)
    expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' })
  })
})

describe('implicit client ids', () => {
  it("refuses a UUID-shaped client_id at login, so a person cannot carry their own user id as client", async () => {
    const response = await login(central.t, { username: user.username, password: PASSWORD, client_id: user.id })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
    const other = await login(central.t, { username: user.username, password: PASSWORD, client_id: randomUUID() })
    expect(other.status).toBe(401)
  })

  it('refuses an implicit client_id outside the registered ids\' alphabet at refresh', async () => {
    const { refreshToken } = await signInThrough('web')
    const response = await refresh(central.t, refreshToken, { client_id: 'web!' })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
  })

  it('keeps an ordinary implicit id working', async () => {
    const { refreshToken } = await signInThrough('mobile-app')
    expect((await refresh(central.t, refreshToken, { client_id: 'mobile-app' })).status).toBe(200)
  })

  it("refuses to register a client named after the browser sign-ins' implicit client web", async () => {
    const response = await admin('POST', '/admin/clients', { client_id: 'web', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'] })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_request' })
  })
})
