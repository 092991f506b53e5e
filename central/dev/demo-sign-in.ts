import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair } from 'jose'
import { startDemoIdentityProvider, type DemoAccount, type DemoIdentityProvider } from './demo-identity-provider'

/** The provider's id in IDENTITY_PROVIDERS and in `/auth/sign-in/demo`, `/auth/callback/demo`. */
export const DEMO_PROVIDER_ID = 'demo'
export const DEMO_PROVIDER_LABEL = 'Demo IdP'
const DEMO_CLIENT_ID = 'portcullis'

/**
 * People at the demo provider. Its login screen takes the login and any password; portcullis
 * names a new user after the verified email and maps `groups` to roles (`roles_map` below).
 */
export const DEMO_ACCOUNTS: DemoAccount[] = [
  { login: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example', preferred_username: 'alice', groups: ['engineering', 'support'] },
  { login: 'bob', email: 'bob@example.com', email_verified: true, name: 'Bob Example', preferred_username: 'bob', groups: ['support'] },
]

export interface DemoSignIn {
  provider: DemoIdentityProvider
  /** IDENTITY_PROVIDERS for central: this provider, labelled "Demo IdP". */
  identityProviders: string
  close(): Promise<void>
}

/**
 * The demo identity provider wired to portcullis the way a team wires a real one: a confidential
 * client whose redirect, post-logout and back-channel logout URIs are on `publicUrl` (the edge,
 * which forwards /auth/* to central), and the matching IDENTITY_PROVIDERS entry. `npm start` and
 * the browser test both use it, so the test walks what a newcomer sees.
 */
export async function startDemoSignIn(input: {
  /** Where browsers reach portcullis: the edge's origin (central's PUBLIC_URL). */
  publicUrl: string
  clientSecret: string
  /** Address the provider listens on (default 127.0.0.1), its port (default: a free one). */
  host?: string
  port?: number
  /** Host in the issuer URL, when it differs from `host` (see DemoIdentityProviderOptions). */
  issuerHost?: string
  /** Pages the person may land on after signing out at the provider, relative to publicUrl. */
  postLogoutPaths?: string[]
}): Promise<DemoSignIn> {
  const publicUrl = input.publicUrl.replace(/\/+$/, '')
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const signingKey = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' }
  const provider = await startDemoIdentityProvider({
    signingKeys: [signingKey],
    host: input.host,
    port: input.port,
    issuerHost: input.issuerHost,
    accounts: DEMO_ACCOUNTS,
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        client_secret: input.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [`${publicUrl}/auth/callback/${DEMO_PROVIDER_ID}`],
        post_logout_redirect_uris: (input.postLogoutPaths ?? ['/', '/app/']).map((path) => `${publicUrl}${path}`),
        backchannel_logout_uri: `${publicUrl}/auth/backchannel-logout/${DEMO_PROVIDER_ID}`,
      },
    ],
  })
  const identityProviders = JSON.stringify([
    {
      id: DEMO_PROVIDER_ID,
      label: DEMO_PROVIDER_LABEL,
      issuer: provider.issuer,
      client_id: DEMO_CLIENT_ID,
      client_secret: input.clientSecret,
      client_auth: 'client_secret_basic',
      scopes: 'openid email profile groups',
      grant: { audiences: ['demo-api'], scopes: ['orders:read', 'profile'], roles: [] },
      roles_claim: 'groups',
      roles_map: { engineering: 'engineer', support: 'support' },
    },
  ])
  return { provider, identityProviders, close: () => provider.close() }
}
