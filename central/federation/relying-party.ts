import { createRemoteJWKSet, errors as joseErrors, type JWTVerifyGetKey } from 'jose'
import * as oidc from 'openid-client'
import type { Queryable } from '../db/pool'
import { loadClientKey, type ClientKey } from './client-keys'
import { ProviderTimeout, ProviderUnavailable, SignInFailed, type FederationError } from './errors'
import { isLoopbackHost, type IdentityProvider } from './identity-providers'

/** Discovered metadata is re-read after this long, so a provider's changed endpoints are picked up. */
const DISCOVERY_CACHE_MS = 60 * 60 * 1000
/** When re-reading fails, the metadata we have is used this long before the next try. */
const DISCOVERY_RETRY_MS = 60 * 1000

interface Discovered {
  server: oidc.ServerMetadata
  logoutTokenKeys: JWTVerifyGetKey
  jwksCache?: oidc.ExportedJWKSCache
  fetchedAt: number
}

export interface AuthorizationRequest {
  url: URL
  state: string
  codeVerifier: string
  nonce: string
}

export interface VerifiedSignIn {
  /** ID token claims, checked by openid-client (signature, iss, aud, azp, exp, iat, nonce). */
  claims: Record<string, unknown>
  idToken: string
}

/**
 * The relying-party side of every configured provider, on openid-client (OIDC Core §3.1, code
 * flow with PKCE, RFC 7636). Owns the per-process caches (discovery, provider keys); everything it
 * checks is checked by the library. Time comes from the caller, as the library's clock skew.
 */
export class RelyingParty {
  readonly #discovered = new Map<string, Promise<Discovered>>()
  /** private_key_jwt keys by provider id: they never change once created, so one read per process. */
  readonly #clientKeys = new Map<string, Promise<ClientKey>>()

  constructor(
    private readonly sql: Queryable,
    private readonly keyEncryptionSecret: string,
  ) {}

  /** Step 1: the URL to send the browser to, and the secrets the callback must present. */
  async beginSignIn(provider: IdentityProvider, redirectUri: string, now: Date): Promise<AuthorizationRequest> {
    const config = await this.configurationFor(provider, now)
    const codeVerifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const nonce = oidc.randomNonce()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: provider.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    return { url, state, codeVerifier, nonce }
  }

  /**
   * Step 2: exchanges the code at the token endpoint and validates the ID token — all by
   * openid-client, which also checks `state` against the one we stored. `callbackUrl` is the
   * public redirect_uri with the provider's query.
   */
  async completeSignIn(
    provider: IdentityProvider,
    callbackUrl: URL,
    checks: { state: string; codeVerifier: string; nonce: string },
    now: Date,
  ): Promise<VerifiedSignIn> {
    const config = await this.configurationFor(provider, now)
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      })
      const claims = tokens.claims()
      if (!claims || !tokens.id_token) throw new SignInFailed('the provider returned no ID token')
      return { claims: claims as Record<string, unknown>, idToken: tokens.id_token }
    } catch (error) {
      throw classifyProviderError(error, 'exchange')
    } finally {
      await this.keepJwksCache(provider, config)
    }
  }

  /** RP-initiated logout URL (OIDC RP-Initiated Logout 1.0 §2), or undefined when the provider has none. */
  async buildEndSessionUrl(provider: IdentityProvider, parameters: Record<string, string>, now: Date): Promise<URL | undefined> {
    const config = await this.configurationFor(provider, now)
    if (!config.serverMetadata().end_session_endpoint) return undefined
    return oidc.buildEndSessionUrl(config, { client_id: provider.client_id, ...parameters })
  }

  /** Origins of these providers' end_session_endpoints, for those whose metadata can be read. */
  async endSessionOrigins(providers: readonly IdentityProvider[]): Promise<string[]> {
    const origins = await Promise.all(
      providers.map(async (provider) => {
        try {
          const endpoint = (await this.discover(provider)).server.end_session_endpoint
          return endpoint ? new URL(endpoint).origin : undefined
        } catch {
          return undefined
        }
      }),
    )
    return origins.filter((origin): origin is string => origin !== undefined)
  }

  /** What a logout token is verified against: the provider's issuer, keys and ID-token algorithms. */
  async logoutTokenVerification(provider: IdentityProvider): Promise<{ issuer: string; keys: JWTVerifyGetKey; algorithms: string[] | undefined }> {
    const discovered = await this.discover(provider)
    return { issuer: discovered.server.issuer, keys: discovered.logoutTokenKeys, algorithms: discovered.server.id_token_signing_alg_values_supported }
  }

  private async configurationFor(provider: IdentityProvider, now: Date): Promise<oidc.Configuration> {
    const discovered = await this.discover(provider)
    const clientAuth =
      provider.client_auth === 'private_key_jwt'
        ? oidc.PrivateKeyJwt(await this.clientKey(provider, now))
        : provider.client_auth === 'client_secret_basic'
          ? oidc.ClientSecretBasic(provider.client_secret)
          : oidc.ClientSecretPost(provider.client_secret)
    // A Configuration per flow (no network: metadata is cached) so the library judges exp/iat
    // by our clock: `clockSkew` is how far that is from the system's.
    const config = new oidc.Configuration(
      discovered.server,
      provider.client_id,
      { [oidc.clockSkew]: Math.round((now.getTime() - Date.now()) / 1000) },
      clientAuth,
    )
    if (insecureAllowed(provider)) oidc.allowInsecureRequests(config)
    config.timeout = provider.timeout_ms / 1000
    // openid-client skips the ID token signature check for token-endpoint responses by default
    // (OIDC Core §3.1.3.7 lets TLS stand in for it); we verify it against the provider's JWKS.
    oidc.enableNonRepudiationChecks(config)
    if (discovered.jwksCache) oidc.setJwksCache(config, discovered.jwksCache)
    return config
  }

  private clientKey(provider: IdentityProvider, now: Date): Promise<ClientKey> {
    let key = this.#clientKeys.get(provider.id)
    if (!key) {
      key = loadClientKey(this.sql, this.keyEncryptionSecret, provider.id, now)
      this.#clientKeys.set(provider.id, key)
      // A failed load (database down) is tried again next time.
      key.catch(() => this.#clientKeys.delete(provider.id))
    }
    return key
  }

  private async keepJwksCache(provider: IdentityProvider, config: oidc.Configuration): Promise<void> {
    const cache = oidc.getJwksCache(config)
    if (!cache) return
    const discovered = await this.#discovered.get(provider.id)?.catch(() => undefined)
    if (discovered) discovered.jwksCache = cache
  }

  private discover(provider: IdentityProvider): Promise<Discovered> {
    const cached = this.#discovered.get(provider.id)
    if (cached) {
      // Expired entries are refreshed; a failed first discovery is never cached.
      return cached.then((d) => (Date.now() - d.fetchedAt < DISCOVERY_CACHE_MS ? d : this.rediscover(provider, d)))
    }
    return this.rediscover(provider, undefined)
  }

  /**
   * Reads the provider's metadata. Stale-if-error: when a refresh fails, the metadata we had
   * stays in use (sign-ins keep working through a short outage of the discovery document) and
   * the next try comes after DISCOVERY_RETRY_MS.
   */
  private rediscover(provider: IdentityProvider, stale: Discovered | undefined): Promise<Discovered> {
    const pending = (async (): Promise<Discovered> => {
      try {
        const config = await oidc.discovery(new URL(provider.issuer), provider.client_id, undefined, undefined, {
          execute: insecureAllowed(provider) ? [oidc.allowInsecureRequests] : [],
          timeout: provider.timeout_ms / 1000,
        })
        const server = config.serverMetadata()
        if (!server.jwks_uri) throw new ProviderUnavailable('the provider publishes no jwks_uri')
        const logoutTokenKeys = createRemoteJWKSet(new URL(server.jwks_uri), { timeoutDuration: provider.timeout_ms })
        return { server: { ...server }, logoutTokenKeys, fetchedAt: Date.now() }
      } catch (error) {
        if (stale) return { ...stale, fetchedAt: Date.now() - DISCOVERY_CACHE_MS + DISCOVERY_RETRY_MS }
        throw classifyProviderError(error, 'discovery')
      }
    })()
    this.#discovered.set(provider.id, pending)
    pending.catch(() => {
      if (this.#discovered.get(provider.id) === pending) this.#discovered.delete(provider.id)
    })
    return pending
  }
}

function insecureAllowed(provider: IdentityProvider): boolean {
  const url = new URL(provider.issuer)
  return url.protocol === 'http:' && isLoopbackHost(url.hostname)
}

/**
 * Maps what openid-client (and fetch) throw to what the browser is told: a provider that cannot
 * be reached or answers nonsense is 502, one too slow 504, anything the library refused in the
 * response itself (state, code, ID token claims, signature) 400. During discovery every refusal
 * is the provider's fault (502). Messages are the library's fixed texts, never response bodies.
 */
export function classifyProviderError(error: unknown, stage: 'discovery' | 'exchange'): FederationError | Error {
  if (error instanceof SignInFailed || error instanceof ProviderUnavailable || error instanceof ProviderTimeout) return error
  const options = { cause: error }
  if (isTimeout(error)) return new ProviderTimeout('the identity provider did not answer in time', options)
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) return new ProviderUnavailable('the identity provider could not be reached', options)
  if (stage === 'discovery') return new ProviderUnavailable('the identity provider\'s configuration could not be read', options)
  if (error instanceof oidc.ResponseBodyError) {
    return error.status >= 500
      ? new ProviderUnavailable(`the identity provider failed (HTTP ${error.status})`, options)
      : new SignInFailed(`the identity provider refused the code (${safeCode(error.error)})`, options)
  }
  if (error instanceof oidc.AuthorizationResponseError) return new SignInFailed(`the identity provider answered ${safeCode(error.error)}`, options)
  if (error instanceof oidc.WWWAuthenticateChallengeError) return new ProviderUnavailable('the identity provider refused central\'s client credentials', options)
  if (error instanceof oidc.ClientError) {
    if (error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || error.code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
      return new ProviderUnavailable('the identity provider answered with an error', options)
    }
    return new SignInFailed(`the sign-in response was rejected: ${error.message}`, options)
  }
  return error instanceof Error ? error : new Error('unexpected failure', options)
}

function isTimeout(error: unknown): boolean {
  if (error instanceof oidc.ClientError && error.code === 'OAUTH_TIMEOUT') return true
  if (error instanceof joseErrors.JWKSTimeout) return true
  return error instanceof Error && (error.name === 'TimeoutError' || (error.cause instanceof Error && error.cause.name === 'TimeoutError'))
}

/** OAuth error codes are a small ASCII vocabulary (RFC 6749 §5.2); anything else is not echoed. */
function safeCode(code: string): string {
  return /^[a-z_]{1,40}$/.test(code) ? code : 'an error'
}
