import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { JWK } from 'jose'
// @ts-expect-error oidc-provider ships no type declarations; the few members used are typed below.
import ProviderModule from 'oidc-provider'

/** What this file uses of oidc-provider's Provider (it publishes no types). */
interface OidcProvider {
  callback(): (req: unknown, res: unknown) => void
  proxy: boolean
  on(event: string, listener: (...args: unknown[]) => void): void
}
const Provider = ProviderModule as new (issuer: string, configuration: Record<string, unknown>) => OidcProvider

export interface DemoAccount {
  /** The login typed on the provider's development login screen. */
  login: string
  email?: string
  email_verified?: boolean
  name?: string
  preferred_username?: string
  groups?: string[]
}

export interface DemoClient {
  client_id: string
  /** Absent for a `private_key_jwt` client, which gives its public keys in `jwks` or `jwks_uri`. */
  client_secret?: string
  redirect_uris: string[]
  post_logout_redirect_uris?: string[]
  backchannel_logout_uri?: string
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'
  jwks?: { keys: JWK[] }
  jwks_uri?: string
}

export interface DemoIdentityProviderOptions {
  /** Private signing keys (JWK with `kid`); tests keep them to sign their own logout tokens. */
  signingKeys: JWK[]
  clients: DemoClient[]
  accounts: DemoAccount[]
  /** Default 127.0.0.1 on a free port. */
  host?: string
  port?: number
  /**
   * The host named in the issuer URL, when it differs from the address listened on: `localhost`
   * while listening on 127.0.0.1 makes the provider another site than an app on 127.0.0.1, as a
   * real provider is, without needing a second loopback address (macOS has only 127.0.0.1).
   */
  issuerHost?: string
  /** Lifetime of ID tokens in seconds (default 3600). */
  idTokenTtlSeconds?: number
}

export interface DemoIdentityProvider {
  issuer: string
  server: Server
  close(): Promise<void>
}

/**
 * A real, certified OpenID provider (panva's oidc-provider) with its development login screen
 * (any account listed in `accounts`, any password), for `npm start` and tests. Back-channel and
 * RP-initiated logout are on. Development only: oidc-provider is a devDependency.
 * @see https://github.com/panva/node-oidc-provider/blob/main/docs/README.md
 */
export async function startDemoIdentityProvider(options: DemoIdentityProviderOptions): Promise<DemoIdentityProvider> {
  const server = createServer()
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const issuer = `http://${options.issuerHost ?? host}:${port}`
  const accounts = new Map(options.accounts.map((a) => [a.login, a]))

  const provider = new Provider(issuer, {
    clients: options.clients.map((client) => ({
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...client,
      // The logout token carries `sid`, so a relying party can end just that session.
      ...(client.backchannel_logout_uri ? { backchannel_logout_session_required: true } : {}),
    })),
    jwks: { keys: options.signingKeys },
    // Email and groups in the ID token itself, as Google, Entra ID and Keycloak send them.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    features: {
      devInteractions: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true },
    // Every lifetime set, so the provider does not print a notice for each default it uses.
    ttl: { IdToken: options.idTokenTtlSeconds ?? 3600, AccessToken: 3600, Interaction: 3600, Session: 14 * 24 * 3600, Grant: 14 * 24 * 3600 },
    cookies: { keys: ['demo-identity-provider-cookie-key-not-secret'] },
    // Its own calls (back-channel logout, a client's jwks_uri) go through a guard that refuses
    // loopback addresses, where the relying party of this demo always is: plain fetch instead.
    fetch: (url: string, { dispatcher: _guard, ...options }: RequestInit & { dispatcher?: unknown }) => fetch(url, options),
    async findAccount(_ctx: unknown, id: string) {
      const account = accounts.get(id)
      if (!account) return undefined
      return {
        accountId: id,
        async claims() {
          const { login, ...claims } = account
          return { sub: login, ...claims }
        },
      }
    },
  })
  // Its development warnings go to the console once per process; tests do not need them.
  provider.on('server_error', () => {})
  // A relying party that did not take the logout would otherwise fail silently.
  provider.on('backchannel.error', (...args: unknown[]) => {
    const [, error, client] = args as [unknown, Error, { clientId: string }]
    console.error(`demo identity provider: back-channel logout to ${client.clientId} failed: ${error.message}${error.cause ? ` (${(error.cause as Error).message})` : ""}`)
  })
  server.on('request', provider.callback())
  return {
    issuer,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
