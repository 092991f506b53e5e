import { beforeAll, describe, expect, it } from 'vitest'
import { findClient } from '../../../central/clients/store'
import { clientSecretMatches } from '../../../central/clients/client-secret'
import { useCentralTestApp } from '../../support/central-app'
import { insertTestUser } from '../../support/users'
import { ConsoleBrowser } from '../console/console-support'

const central = useCentralTestApp({ env: { COOKIE_SECURE: 'false' } })
let browser: ConsoleBrowser
let csrf: string

beforeAll(async () => {
  await insertTestUser(central.db.sql, { username: 'ops', password: 'a long console password', roles: ['portcullis:admin'] })
  browser = new ConsoleBrowser(central.t)
  expect((await browser.signIn('ops', 'a long console password')).status).toBe(303)
  csrf = await browser.csrfFrom('/console/clients')
})

const register = (fields: Record<string, string>) =>
  browser.post('/console/clients', { _csrf: csrf, token_endpoint_auth_method: 'client_secret_basic', grant_types: 'client_credentials', audiences: 'orders billing', scopes: 'orders:read', ...fields })

describe('console: clients', () => {
  it('is linked from the navigation', async () => {
    expect(await (await browser.get('/console/')).text()).toContain('href="/console/clients"')
  })

  it('registers a client and shows its secret once, in the page and never in a URL', async () => {
    const response = await register({ client_id: 'console-made' })
    expect(response.status).toBe(200)
    const html = await response.text()
    const secret = /<output class="mono">([A-Za-z0-9_-]{43})<\/output>/.exec(html)?.[1]
    expect(secret).toBeDefined()
    const client = await findClient(central.db.sql, 'console-made')
    expect(client).toMatchObject({ audiences: ['orders', 'billing'], scopes: ['orders:read'], grantTypes: ['client_credentials'] })
    expect(clientSecretMatches(client!.secretHash!, secret!)).toBe(true)
    expect(await (await browser.get('/console/clients')).text()).not.toContain(secret)
  })

  it('names the rule a registration breaks', async () => {
    const response = await register({ client_id: 'public-cc', token_endpoint_auth_method: 'none' })
    expect(response.status).toBe(400)
    expect(await response.text()).toContain('client_credentials is for confidential clients only')
  })

  it('rotates a secret after confirmation, showing the new one', async () => {
    await register({ client_id: 'rotating' })
    const before = (await findClient(central.db.sql, 'rotating'))!.secretHash
    const first = await browser.post('/console/clients/rotating/rotate-secret', { _csrf: csrf })
    expect(await first.text()).toContain('Rotate the secret of rotating?')
    expect((await findClient(central.db.sql, 'rotating'))!.secretHash).toEqual(before)
    const { response } = await browser.postConfirmed('/console/clients/rotating/rotate-secret', { _csrf: csrf })
    expect(response.status).toBe(200)
    expect(await response.text()).toMatch(/<output class="mono">[A-Za-z0-9_-]{43}<\/output>/)
    const after = await findClient(central.db.sql, 'rotating')
    expect(after!.secretHash).not.toEqual(before)
    expect(after!.notBefore).not.toBeNull()
  })

  it('disables after confirmation, enables again, and deletes only after confirmation', async () => {
    await register({ client_id: 'to-delete' })
    expect((await browser.postConfirmed('/console/clients/to-delete/disable', { _csrf: csrf })).response.status).toBe(303)
    expect((await findClient(central.db.sql, 'to-delete'))!.enabled).toBe(false)
    expect((await browser.post('/console/clients/to-delete/enable', { _csrf: csrf })).status).toBe(303)
    expect((await findClient(central.db.sql, 'to-delete'))!.enabled).toBe(true)

    const unconfirmed = await browser.post('/console/clients/to-delete/delete', { _csrf: csrf })
    expect(await unconfirmed.text()).toContain('Delete to-delete?')
    expect(await findClient(central.db.sql, 'to-delete')).toBeDefined()
    const { response } = await browser.postConfirmed('/console/clients/to-delete/delete', { _csrf: csrf })
    expect(response.headers.get('Location')).toBe('/console/clients?done=deleted')
    expect(await findClient(central.db.sql, 'to-delete')).toBeUndefined()
  })

  it('refuses a post without the CSRF token', async () => {
    await register({ client_id: 'guarded' })
    const response = await browser.post('/console/clients/guarded/delete', { confirmed: '1' })
    expect(response.status).toBe(403)
    expect(await findClient(central.db.sql, 'guarded')).toBeDefined()
  })
})
