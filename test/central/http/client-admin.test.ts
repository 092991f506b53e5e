import { describe, expect, it } from 'vitest'
import { TEST_ADMIN_TOKEN, useCentralTestApp } from '../../support/central-app'
import { bearer } from '../../support/central-requests'

const central = useCentralTestApp()

async function admin(method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN): Promise<Response> {
  return await central.t.app.request(path, {
    method,
    headers: { ...bearer(token), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

const secretClient = (clientId: string, extra: Record<string, unknown> = {}) => ({
  client_id: clientId,
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['client_credentials'],
  audiences: ['orders', 'billing'],
  scopes: ['orders:read'],
  ...extra,
})

describe('/admin/clients', () => {
  it('needs the admin token', async () => {
    expect((await admin('GET', '/admin/clients', undefined, 'wrong-token-0123456789abcdef')).status).toBe(401)
    expect((await admin('POST', '/admin/clients', secretClient('nope'), 'wrong-token-0123456789abcdef')).status).toBe(401)
  })

  it('returns the secret only when creating or rotating, never when listing or showing', async () => {
    const created = await admin('POST', '/admin/clients', secretClient('reports'))
    expect(created.status).toBe(201)
    expect(created.headers.get('Cache-Control')).toBe('no-store')
    const { client_secret, client } = (await created.json()) as { client_secret: string; client: Record<string, unknown> }
    expect(client).toMatchObject({ client_id: 'reports', client_type: 'confidential', has_secret: true, enabled: true, not_before: null })
    expect(client).not.toHaveProperty('secret_hash')
    for (const path of ['/admin/clients', '/admin/clients/reports']) {
      const text = await (await admin('GET', path)).text()
      expect(text).toContain('reports')
      expect(text).not.toContain(client_secret)
    }
    const rotated = (await (await admin('POST', '/admin/clients/reports/rotate-secret')).json()) as { client_secret: string; client: { not_before: string } }
    expect(rotated.client_secret).not.toBe(client_secret)
    expect(rotated.client.not_before).not.toBeNull()
  })

  it.each([
    ['a UUID-shaped id', secretClient('6f1c2a4e-5b7d-4c1e-9a0f-2b3c4d5e6f70'), /must not be a UUID/],
    ['client_credentials for a public client', secretClient('spa', { token_endpoint_auth_method: 'none' }), /confidential clients only/],
    ['private_key_jwt without keys', secretClient('nokeys', { token_endpoint_auth_method: 'private_key_jwt' }), /exactly one of jwks and jwks_uri/],
    ['a private key in jwks', secretClient('leaky', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c' }] } }), /public key/],
    ['an unknown field', secretClient('extra', { client_secret: 'chosen' }), /client_secret|Unrecognized/i],
  ])('refuses %s with 400 naming the rule', async (_name, body, message) => {
    const response = await admin('POST', '/admin/clients', body)
    expect(response.status).toBe(400)
    const answer = (await response.json()) as { error: string; error_description: string }
    expect(answer.error).toBe('invalid_request')
    expect(answer.error_description).toMatch(message)
  })

  it('refuses a taken id with 409', async () => {
    expect((await admin('POST', '/admin/clients', secretClient('twice'))).status).toBe(201)
    expect((await admin('POST', '/admin/clients', secretClient('twice'))).status).toBe(409)
  })

  it('moves the not-before marker when a change narrows the client, not when it widens it', async () => {
    await admin('POST', '/admin/clients', secretClient('narrowing'))
    const widened = (await (await admin('PATCH', '/admin/clients/narrowing', { scopes: ['orders:read', 'orders:write'] })).json()) as { not_before: string | null }
    expect(widened.not_before).toBeNull()
    const narrowed = (await (await admin('PATCH', '/admin/clients/narrowing', { audiences: ['orders'] })).json()) as { not_before: string | null; audiences: string[] }
    expect(narrowed).toMatchObject({ audiences: ['orders'], not_before: expect.any(String) })
  })

  it('disables and deletes; both answer 404 for an unknown client', async () => {
    await admin('POST', '/admin/clients', secretClient('short-lived'))
    const disabled = (await (await admin('POST', '/admin/clients/short-lived/disable')).json()) as { enabled: boolean }
    expect(disabled.enabled).toBe(false)
    expect((await admin('DELETE', '/admin/clients/short-lived')).status).toBe(204)
    expect((await admin('GET', '/admin/clients/short-lived')).status).toBe(404)
    expect((await admin('DELETE', '/admin/clients/short-lived')).status).toBe(404)
    expect((await admin('POST', '/admin/clients/nobody/disable')).status).toBe(404)
    expect((await admin('POST', '/admin/clients/nobody/rotate-secret')).status).toBe(404)
  })

  it('refuses to rotate the secret of a client without one', async () => {
    await admin('POST', '/admin/clients', { client_id: 'public-app', token_endpoint_auth_method: 'none', grant_types: ['password', 'refresh_token'] })
    const response = await admin('POST', '/admin/clients/public-app/rotate-secret')
    expect(response.status).toBe(400)
  })

  it('is described in the OpenAPI document', async () => {
    const doc = (await (await central.t.app.request('/openapi.json')).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/admin/clients', '/admin/clients/{client_id}', '/admin/clients/{client_id}/rotate-secret', '/admin/clients/{client_id}/disable']),
    )
  })
})
