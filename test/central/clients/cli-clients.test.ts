import { describe, expect, it } from 'vitest'
import { listAuditEvents } from '../../../central/audit/store'
import { findClient } from '../../../central/clients/store'
import { runPortcullis, useCliCentral } from '../cli/cli-support'

const cli = useCliCentral()

async function clientEventTypes(clientId: string): Promise<string[]> {
  const events = await listAuditEvents(cli.db.sql, { limit: 500 })
  return events.filter((event) => event.details.client_id === clientId).reverse().map((event) => event.type)
}

describe('portcullis clients', () => {
  it('adds a secret client, printing the secret once, then lists and shows it', async () => {
    const added = await runPortcullis(['clients', 'add', 'nightly-export', '--audience', 'orders', '--scope', 'orders:read', '--json'], cli.env)
    expect(added.code, added.stderr).toBe(0)
    const body = JSON.parse(added.stdout) as { client: { client_id: string; has_secret: boolean }; client_secret: string }
    expect(body.client).toMatchObject({ client_id: 'nightly-export', has_secret: true, token_endpoint_auth_method: 'client_secret_basic' })
    expect(body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)

    const list = await runPortcullis(['clients', 'list'], cli.env)
    expect(list.stdout).toMatch(/^CLIENT_ID\s+ENABLED\s+METHOD/)
    expect(list.stdout).toContain('nightly-export')
    expect(list.stdout).not.toContain(body.client_secret)
    const show = await runPortcullis(['clients', 'show', 'nightly-export'], cli.env)
    expect(show.stdout).toContain('client_credentials')
    expect(show.stdout).not.toContain(body.client_secret)
  })

  it('prints the secret in human output with a warning that it is shown once', async () => {
    const added = await runPortcullis(['clients', 'add', 'human-readable', '--audience', 'orders'], cli.env)
    expect(added.stdout).toMatch(/client_secret: [A-Za-z0-9_-]{43}\n\(shown once/)
  })

  it('registers a private_key_jwt client with keys from stdin', async () => {
    const jwks = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' }] })
    const added = await runPortcullis(['clients', 'add', 'signed', '--auth-method', 'private_key_jwt', '--jwks-stdin', '--audience', 'orders', '--json'], cli.env, jwks)
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout)).toMatchObject({ client_secret: null, client: { jwks: { keys: [{ kid: 'k1' }] } } })
  })

  it('rotates a secret, disables, enables and deletes, each audited', async () => {
    const first = JSON.parse((await runPortcullis(['clients', 'add', 'lifecycle', '--audience', 'orders', '--json'], cli.env)).stdout) as { client_secret: string }
    const rotated = await runPortcullis(['clients', 'rotate-secret', 'lifecycle', '--json'], cli.env)
    expect(rotated.code).toBe(0)
    expect((JSON.parse(rotated.stdout) as { client_secret: string }).client_secret).not.toBe(first.client_secret)

    expect((await runPortcullis(['clients', 'disable', 'lifecycle'], cli.env)).code).toBe(0)
    expect((await findClient(cli.db.sql, 'lifecycle'))?.enabled).toBe(false)
    expect((await runPortcullis(['clients', 'enable', 'lifecycle'], cli.env)).code).toBe(0)
    expect((await findClient(cli.db.sql, 'lifecycle'))?.enabled).toBe(true)
    const deleted = await runPortcullis(['clients', 'delete', 'lifecycle'], cli.env)
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted client lifecycle\n' })
    expect(await findClient(cli.db.sql, 'lifecycle')).toBeUndefined()
    expect(await clientEventTypes('lifecycle')).toEqual([
      'client.created',
      'client.secret_rotated',
      'client.updated',
      'client.disabled',
      'client.updated',
      'client.enabled',
      'client.deleted',
    ])
  })

  it('exits 5 for an unknown client and 1 naming the rule for an invalid registration', async () => {
    expect((await runPortcullis(['clients', 'show', 'nobody'], cli.env)).code).toBe(5)
    const publicWithCredentials = await runPortcullis(['clients', 'add', 'spa', '--auth-method', 'none', '--grant', 'client_credentials'], cli.env)
    expect(publicWithCredentials.code).toBe(1)
    expect(publicWithCredentials.stderr).toContain('client_credentials is for confidential clients only')
  })
})
