import type { JSONWebKeySet } from 'jose'

/** RFC 6749 §2.1 client types. */
export const CLIENT_TYPES = ['public', 'confidential'] as const
export type ClientType = (typeof CLIENT_TYPES)[number]

/** RFC 7591 §2 `token_endpoint_auth_method` values portcullis accepts. */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number]

/** Grant types a registered client may be allowed (RFC 7591 §2 `grant_types`). */
export const CLIENT_GRANT_TYPES = ['client_credentials', 'refresh_token', 'password'] as const
export type ClientGrantType = (typeof CLIENT_GRANT_TYPES)[number]

/** Methods that authenticate with a shared secret (RFC 6749 §2.3.1). */
export const SECRET_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_basic', 'client_secret_post']

/** A registered client as central's domain sees it. `secretHash` never leaves the clients folder. */
export interface ClientRecord {
  clientId: string
  type: ClientType
  tokenEndpointAuthMethod: TokenEndpointAuthMethod
  /** SHA-256 of the client secret; null unless a secret method. */
  secretHash: Buffer | null
  secretRotatedAt: Date | null
  /** private_key_jwt keys: inline public set, or where to fetch it (exactly one). */
  jwks: JSONWebKeySet | null
  jwksUri: string | null
  grantTypes: ClientGrantType[]
  /** What client-credentials tokens may carry; a request narrows within these. */
  audiences: string[]
  scopes: string[]
  roles: string[]
  /** Shorter access tokens for this client; null: the service default. */
  accessTokenTtlSeconds: number | null
  requireDpop: boolean
  enabled: boolean
  /** Access tokens of this client issued before this instant are dead at the edge. */
  notBefore: Date | null
  createdAt: Date
  updatedAt: Date
}

/** What the admin API and the console show about a client: everything but the secret hash. */
export type ClientView = Omit<ClientRecord, 'secretHash'> & { hasSecret: boolean }

export function toClientView(client: ClientRecord): ClientView {
  const { secretHash, ...rest } = client
  return { ...rest, hasSecret: secretHash !== null }
}

/** A client id's standing: registered, deleted (never free for implicit use again), or unregistered. */
export type ClientRegistration = ClientRecord | 'deleted' | undefined

/** A client whose tokens issued before `notBefore` are dead (the revocation feed lists it). */
export interface ClientNotBefore {
  clientId: string
  notBefore: Date
}
