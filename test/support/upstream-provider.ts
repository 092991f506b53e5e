import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose'
import { startDemoIdentityProvider, type DemoAccount, type DemoClient } from '../../central/dev/demo-identity-provider'

export interface UpstreamProvider {
  issuer: string
  /** The provider's own signing key, so a test can sign what the provider would (logout tokens). */
  signingKey: CryptoKey
  kid: string
  close(): Promise<void>
}

/** The real oidc-provider on a loopback port, with an RS256 key the test keeps. */
export async function startUpstreamProvider(input: { clients: DemoClient[]; accounts: DemoAccount[] }): Promise<UpstreamProvider> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const kid = randomUUID()
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' }
  const provider = await startDemoIdentityProvider({ signingKeys: [jwk], clients: input.clients, accounts: input.accounts })
  return { issuer: provider.issuer, signingKey: privateKey, kid, close: provider.close }
}

interface StoredCookie {
  name: string
  value: string
  host: string
  path: string
}

/** A browser's cookies, enough for these tests: host and path matching, Max-Age=0 deletes. */
export class CookieJar {
  #cookies: StoredCookie[] = []

  store(url: string | URL, response: Response): void {
    const { host } = new URL(url)
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim())
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq)
      const value = pair!.slice(eq + 1)
      let path = '/'
      let expired = false
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=')
        if (key!.toLowerCase() === 'path') path = val
        if (key!.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true
        if (key!.toLowerCase() === 'expires' && Date.parse(val) <= Date.now()) expired = true
      }
      this.#cookies = this.#cookies.filter((c) => !(c.name === name && c.host === host && c.path === path))
      if (!expired) this.#cookies.push({ name, value, host, path })
    }
  }

  header(url: string | URL): string {
    const { host, pathname } = new URL(url)
    return this.#cookies
      .filter((c) => c.host === host && (pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ')
  }

  get(name: string, host?: string): string | undefined {
    return this.#cookies.find((c) => c.name === name && (host === undefined || c.host === host))?.value
  }

  delete(name: string): void {
    this.#cookies = this.#cookies.filter((c) => c.name !== name)
  }

  /** A second browser with the same cookies (to race two tabs). */
  clone(): CookieJar {
    const copy = new CookieJar()
    copy.#cookies = this.#cookies.map((c) => ({ ...c }))
    return copy
  }
}

/**
 * Plays the person at the provider: from the authorization URL, through oidc-provider's
 * development login form and consent form, to the redirect back to the relying party.
 * Returns that redirect URL (not followed).
 */
export async function signInAtProvider(jar: CookieJar, authorizationUrl: string, login: string): Promise<string> {
  const providerOrigin = new URL(authorizationUrl).origin
  let url = authorizationUrl
  let method = 'GET'
  let body: URLSearchParams | undefined
  for (let step = 0; step < 20; step++) {
    const response = await fetch(url, {
      method,
      body,
      redirect: 'manual',
      headers: { cookie: jar.header(url), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    })
    jar.store(url, response)
    const location = response.headers.get('location')
    if (location) {
      const next = new URL(location, url)
      if (next.origin !== providerOrigin) return next.href
      url = next.href
      method = 'GET'
      body = undefined
      continue
    }
    const html = await response.text()
    if (response.status !== 200) throw new Error(`provider answered ${response.status}: ${html.slice(0, 300)}`)
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1]
    if (!action || !prompt) throw new Error(`no login or consent form at ${url}`)
    url = new URL(action.replace(/&amp;/g, '&'), url).href
    method = 'POST'
    body = prompt === 'login' ? new URLSearchParams({ prompt, login, password: 'any password' }) : new URLSearchParams({ prompt })
  }
  throw new Error('too many steps at the provider')
}
