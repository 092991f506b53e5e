import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createLocalJWKSet } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CurrentUser, CurrentUserMiddlewareOptions } from '../../shared/current-user-package'
import { createSigningKey, signAccessToken, TEST_ISSUER, type TestSigningKey } from '../support/edge-keys'

/** What the test routes answer: the caller as the route sees it. */
export const userView = (user: CurrentUser | null | undefined) =>
  user ? { sub: user.sub, sid: user.sid, scopes: user.scopes, roles: user.roles, canReadOrders: user.can('orders:read') } : null

/** A real server of one framework: `/public` (any caller) and `/private` (a caller required), both answering userView. */
export interface FrameworkServer {
  url: string
  close(): Promise<void>
}

export type StartServer = (options: CurrentUserMiddlewareOptions) => Promise<FrameworkServer>

const BUILD_SCRIPT = fileURLToPath(new URL('../../shared/build-current-user.mjs', import.meta.url))

/**
 * Builds the package (shared/dist, as `npm run build` does), so the import through its export name
 * (`portcullis/current-user/<framework>`) is the built JavaScript, and runs the cases every
 * framework's middleware must pass against a real server of that framework.
 */
export function describeCurrentUserMiddleware(framework: string, load: () => Promise<StartServer>) {
  describe(`portcullis/current-user/${framework} on a real ${framework} server`, () => {
    let start: StartServer
    let key: TestSigningKey
    const servers: FrameworkServer[] = []
    const serve = async (options: CurrentUserMiddlewareOptions) => {
      const server = await start(options)
      servers.push(server)
      return server
    }

    beforeAll(async () => {
      await promisify(execFile)(process.execPath, [BUILD_SCRIPT])
      start = await load()
      key = await createSigningKey('origin-key')
    }, 120_000)
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.close()))
    })

    const identity = {
      'X-Portcullis-Sub': 'user-1',
      'X-Portcullis-Sid': 'session-1',
      'X-Portcullis-Scope': 'orders:read orders:write',
      'X-Portcullis-Aud': 'demo-api',
      'X-Portcullis-Roles': 'support',
    }

    it("gives the route the edge's identity headers as the current user", async () => {
      const { url } = await serve({})
      const response = await fetch(`${url}/private`, { headers: identity })
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ sub: 'user-1', sid: 'session-1', scopes: ['orders:read', 'orders:write'], roles: ['support'], canReadOrders: true })
    })

    it('gives a public route null without identity, and answers a route that needs a caller with 401 and a Bearer challenge', async () => {
      const { url } = await serve({})
      const open = await fetch(`${url}/public`)
      expect(open.status).toBe(200)
      expect(await open.json()).toBeNull()
      const closed = await fetch(`${url}/private`)
      expect(closed.status).toBe(401)
      // RFC 6750 §3.1: no credentials, so no error code in the challenge.
      expect(closed.headers.get('WWW-Authenticate')).toMatch(/^Bearer realm="portcullis"$/)
      expect(await closed.json()).toMatchObject({ error: 'invalid_token' })
    })

    describe('re-verifying the forwarded token (FORWARD_AUTHORIZATION)', () => {
      const verifying = () => serve({ verify: { issuer: TEST_ISSUER, audience: 'demo-api', keys: createLocalJWKSet({ keys: [key.publicJwk] }) } })

      it('takes the caller from a valid access token', async () => {
        const { url } = await verifying()
        const token = await signAccessToken(key, { roles: ['support'] })
        const response = await fetch(`${url}/private`, { headers: { Authorization: `Bearer ${token}` } })
        expect(response.status).toBe(200)
        expect(await response.json()).toMatchObject({ sub: 'user-123', sid: 'session-456', roles: ['support'], canReadOrders: true })
      })

      it('ignores identity headers without a token: nothing but the token is trusted', async () => {
        const { url } = await verifying()
        expect((await fetch(`${url}/private`, { headers: identity })).status).toBe(401)
        expect(await (await fetch(`${url}/public`, { headers: identity })).json()).toBeNull()
      })

      it('refuses a DPoP-bound token, as Bearer or with the DPoP scheme, with 401 naming the missing proof', async () => {
        const { url } = await verifying()
        const token = await signAccessToken(key, { cnf: { jkt: 'thumbprint-of-the-bound-key' } })
        for (const scheme of ['Bearer', 'DPoP']) {
          const response = await fetch(`${url}/public`, { headers: { Authorization: `${scheme} ${token}` } })
          expect(response.status).toBe(401)
          expect(response.headers.get('WWW-Authenticate')).toContain('error="invalid_token"')
          expect(await response.json()).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(/DPoP proof/) })
        }
      })

      it('answers a token signed by another key, or for another audience, with 401 invalid_token', async () => {
        const { url } = await verifying()
        const stranger = await createSigningKey('origin-key')
        const tokens = [await signAccessToken(stranger), await signAccessToken(key, { aud: 'billing-api' })]
        for (const token of tokens) {
          const response = await fetch(`${url}/public`, { headers: { Authorization: `Bearer ${token}` } })
          expect(response.status).toBe(401)
          expect(response.headers.get('WWW-Authenticate')).toContain('error="invalid_token"')
        }
      })
    })
  })
}
