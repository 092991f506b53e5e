import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose'

export const TEST_ISSUER = 'http://central.test'

export interface TestSigningKey {
  kid: string
  alg: 'ES256' | 'EdDSA'
  privateKey: CryptoKey
  publicKey: CryptoKey
  publicJwk: JWK
}

/** A fresh signing key pair, as central would hold one. */
export async function createSigningKey(kid: string, alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicKey, publicJwk }
}

/** Claims of a valid access token for the demo audience, valid for ten minutes from `nowSeconds`. */
export function accessTokenClaims(overrides: Record<string, unknown> = {}, nowSeconds = Math.floor(Date.now() / 1000)): JWTPayload {
  return {
    iss: TEST_ISSUER,
    sub: 'user-123',
    aud: ['demo-api'],
    exp: nowSeconds + 600,
    iat: nowSeconds,
    jti: crypto.randomUUID(),
    client_id: 'portcullis-web',
    scope: 'orders:read profile',
    sid: 'session-456',
    ...overrides,
  }
}

/** Signs an access token the way central does (RFC 9068: `typ: at+jwt`, kid), with optional header/claim changes. */
export async function signAccessToken(
  key: TestSigningKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const payload = accessTokenClaims()
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined) delete payload[name]
    else payload[name] = value
  }
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header } as never).sign(key.privateKey)
}

/** A well-formed access token signed by a key central never published (a fresh `kid`): the edge refetches the JWKS for it, arming the refetch cooldown. */
export async function unknownKidToken(claims: { iss: string; aud: string }): Promise<string> {
  const key = await createSigningKey(`made-up-${crypto.randomUUID()}`)
  return await signAccessToken(key, { iss: claims.iss, aud: claims.aud, sub: 'nobody', sid: 'made-up', client_id: 'x', scope: 'read' })
}

export function base64url(input: string | Uint8Array): string {
  return Buffer.from(input).toString('base64url')
}

export type JwksMode = 'ok' | 'down' | 'garbage' | 'slow'

export interface JwksServer {
  url: string
  /** Requests received so far. */
  hits: number
  keys: JWK[]
  mode: JwksMode
  close(): Promise<void>
}

/** A local JWKS endpoint standing in for central's `/.well-known/jwks.json`. */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const pending = new Set<() => void>()
  const state: JwksServer = {
    url: '',
    hits: 0,
    keys,
    mode: 'ok',
    close: async () => {
      for (const release of pending) release()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  const server: Server = createServer((request, response) => {
    state.hits++
    if (state.mode === 'down') {
      response.writeHead(503, { 'content-type': 'text/plain' }).end('down')
    } else if (state.mode === 'garbage') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": "not-a-list"')
    } else if (state.mode === 'slow') {
      // Never answers until the server closes: the edge's JWKS timeout must fire.
      pending.add(() => response.destroy())
    } else {
      response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: state.keys }))
    }
  })
  server.keepAliveTimeout = 1
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  return state
}

/**
 * A compact JWS built by hand (jose refuses to sign some of the malformed headers the tests need).
 * Signs with the key's real algorithm unless `signature` is given.
 */
export async function signRawToken(
  key: TestSigningKey,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature?: Uint8Array,
): Promise<string> {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`
  if (signature) return `${signingInput}.${base64url(signature)}`
  const algorithm = key.alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' }
  const signed = new Uint8Array(await crypto.subtle.sign(algorithm, key.privateKey, new TextEncoder().encode(signingInput)))
  return `${signingInput}.${base64url(signed)}`
}
