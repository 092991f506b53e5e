import { describe, expect, it } from 'vitest'
import { TEST_ISSUER, useCentralTestApp } from '../../support/central-app'

const PUBLIC_URL = 'https://edge.example.test'
const central = useCentralTestApp({ env: { PUBLIC_URL } })

describe('RFC 8414 metadata behind the edge', () => {
  it('names PUBLIC_URL for every endpoint and keeps ISSUER as the issuer', async () => {
    const response = await central.t.app.request('/.well-known/oauth-authorization-server')
    expect(response.status).toBe(200)
    const metadata = (await response.json()) as Record<string, unknown>
    expect(metadata.issuer).toBe(TEST_ISSUER)
    const endpoints = Object.entries(metadata).filter(([name]) => name.endsWith('_endpoint') || name.endsWith('_uri'))
    expect(endpoints.map(([name]) => name)).toEqual(expect.arrayContaining(['token_endpoint', 'revocation_endpoint', 'jwks_uri']))
    for (const [name, url] of endpoints) {
      expect(new URL(String(url)).origin, name).toBe(PUBLIC_URL)
    }
    expect(metadata).toMatchObject({
      token_endpoint: `${PUBLIC_URL}/oauth/token`,
      revocation_endpoint: `${PUBLIC_URL}/oauth/revoke`,
      jwks_uri: `${PUBLIC_URL}/.well-known/jwks.json`,
    })
  })
})
