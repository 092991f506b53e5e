import { describe, expect, it } from 'vitest'
import * as oauth from 'oauth4webapi'
import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { InvalidDpopProof, UseDpopNonce, type DpopNonceReason, type DpopProofReason } from '../../shared/dpop-errors'
import { accessTokenHash, checkDpopProofReplay, verifyDpopProof, type DpopProofCheck } from '../../shared/dpop-proof'
import { DpopReplayCache } from '../../shared/dpop-replay-cache'

const TOKEN_ENDPOINT = 'https://auth.example.com/oauth/token'
const RESOURCE = 'https://api.example.com/orders/42'
const WINDOW = { maxAgeSeconds: 60, clockToleranceSeconds: 5 }
const client: oauth.Client = { client_id: 'orders-batch' }
const as: oauth.AuthorizationServer = { issuer: 'https://auth.example.com', token_endpoint: TOKEN_ENDPOINT }

/** A DPoP client as a real one behaves: oauth4webapi, its requests caught before the network. */
async function dpopClient(alg = 'ES256') {
  const keyPair = await oauth.generateKeyPair(alg)
  const handle = oauth.DPoP(client, keyPair)
  let serverNonce: string | undefined
  const capture = () => {
    let proof: string | null = null
    const fetch = async (_url: string, init: oauth.CustomFetchOptions<string, unknown>) => {
      proof = new Headers(init.headers as Record<string, string>).get('dpop')
      const headers = new Headers()
      if (serverNonce) headers.set('dpop-nonce', serverNonce)
      return new Response('{}', { status: 200, headers })
    }
    return { fetch, proof: () => proof! }
  }
  return {
    handle,
    thumbprint: () => handle.calculateThumbprint(),
    /** Later responses carry this nonce; oauth4webapi puts it in the next proof to that origin. */
    offerNonce(nonce: string) {
      serverNonce = nonce
    },
    /** A token request (client credentials) with a proof, as sent to the token endpoint. */
    async tokenRequestProof(): Promise<string> {
      const caught = capture()
      await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretPost('s3cret'), { scope: 'orders:read' }, {
        DPoP: handle,
        [oauth.customFetch]: caught.fetch,
      })
      return caught.proof()
    },
    /** A resource request with a DPoP-bound access token. */
    async resourceRequestProof(accessToken: string, method = 'GET', url = RESOURCE): Promise<string> {
      const caught = capture()
      await oauth.protectedResourceRequest(accessToken, method, new URL(url), undefined, undefined, {
        DPoP: handle,
        [oauth.customFetch]: caught.fetch,
      })
      return caught.proof()
    },
  }
}

const tokenEndpointCheck = (overrides: Partial<DpopProofCheck> = {}): DpopProofCheck => ({
  method: 'POST',
  url: TOKEN_ENDPOINT,
  now: new Date(),
  ...WINDOW,
  ...overrides,
})

async function rejection(promise: Promise<unknown>): Promise<InvalidDpopProof | UseDpopNonce> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof InvalidDpopProof || error instanceof UseDpopNonce)) throw new Error(`expected a DPoP error, got ${String(error)}`)
  return error
}

async function expectReason(promise: Promise<unknown>, reason: DpopProofReason | DpopNonceReason) {
  expect((await rejection(promise)).reason).toBe(reason)
}

// --- Hand-built proofs, for what no honest client sends -----------------------------------------

interface HandProof {
  header?: Record<string, unknown>
  payload?: Record<string, unknown>
  /** Sign with this key instead of the one whose public half is in `jwk`. */
  signWith?: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']
}

const signingKeys = await generateKeyPair('ES256', { extractable: true })
const signingJwk = await exportJWK(signingKeys.publicKey)

async function handProof(options: HandProof = {}): Promise<string> {
  const header = { alg: 'ES256', typ: 'dpop+jwt', jwk: signingJwk, ...options.header }
  const payload = { jti: crypto.randomUUID(), htm: 'POST', htu: TOKEN_ENDPOINT, iat: Math.floor(Date.now() / 1000), ...options.payload }
  return await new SignJWT(payload).setProtectedHeader(header as never).sign(options.signWith ?? signingKeys.privateKey)
}

function unsigned(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  const part = (value: unknown) => base64url.encode(JSON.stringify(value))
  return `${part(header)}.${part(payload)}.${signature}`
}

describe('verifyDpopProof with proofs from an independent client (oauth4webapi)', () => {
  it('accepts a token-request proof and returns the RFC 7638 thumbprint of its key', async () => {
    const dpop = await dpopClient()
    const verified = await verifyDpopProof(await dpop.tokenRequestProof(), tokenEndpointCheck())
    expect(verified.jkt).toBe(await dpop.thumbprint())
    expect(verified.jti).toEqual(expect.any(String))
  })

  it.each(['ES256', 'Ed25519', 'PS256', 'RS256'])('accepts %s proofs', async (alg) => {
    const dpop = await dpopClient(alg)
    const verified = await verifyDpopProof(await dpop.tokenRequestProof(), tokenEndpointCheck())
    expect(verified.jkt).toBe(await dpop.thumbprint())
  })

  it('accepts a resource-request proof whose ath is the hash of the presented token', async () => {
    const dpop = await dpopClient()
    const proof = await dpop.resourceRequestProof('the.access.token')
    const verified = await verifyDpopProof(proof, { ...tokenEndpointCheck(), method: 'GET', url: RESOURCE, accessToken: 'the.access.token', boundJkt: await dpop.thumbprint() })
    expect(verified.jkt).toBe(await dpop.thumbprint())
  })

  it('matches htu ignoring query, fragment, scheme and host case and the default port', async () => {
    const dpop = await dpopClient()
    const proof = await dpop.resourceRequestProof('t', 'GET', 'https://api.example.com/orders/42?page=2#top')
    await expect(
      verifyDpopProof(proof, { ...tokenEndpointCheck(), method: 'GET', url: 'HTTPS://API.Example.com:443/orders/42?other=1', accessToken: 't' }),
    ).resolves.toMatchObject({ jkt: await dpop.thumbprint() })
  })

  it('asks for a nonce when the server requires one, then accepts the proof carrying it', async () => {
    const dpop = await dpopClient()
    await expectReason(verifyDpopProof(await dpop.tokenRequestProof(), tokenEndpointCheck({ nonce: 'n-1' })), 'nonce_missing')
    dpop.offerNonce('n-1')
    await dpop.tokenRequestProof() // the response carrying DPoP-Nonce
    await expect(verifyDpopProof(await dpop.tokenRequestProof(), tokenEndpointCheck({ nonce: ['n-0', 'n-1'] }))).resolves.toBeDefined()
  })

  it('refuses a proof with a nonce that is no longer current', async () => {
    const dpop = await dpopClient()
    dpop.offerNonce('old')
    await dpop.tokenRequestProof()
    const error = await rejection(verifyDpopProof(await dpop.tokenRequestProof(), tokenEndpointCheck({ nonce: 'new' })))
    expect(error).toBeInstanceOf(UseDpopNonce)
    expect(error.reason).toBe('nonce_mismatch')
    expect(error.code).toBe('use_dpop_nonce')
  })

  it('refuses a valid proof by another key than the token is bound to', async () => {
    const [holder, thief] = [await dpopClient(), await dpopClient()]
    const proof = await thief.resourceRequestProof('stolen.token')
    await expectReason(
      verifyDpopProof(proof, { ...tokenEndpointCheck(), method: 'GET', url: RESOURCE, accessToken: 'stolen.token', boundJkt: await holder.thumbprint() }),
      'key_mismatch',
    )
  })

  it('refuses a replayed proof once the replay guard has seen it', async () => {
    const dpop = await dpopClient()
    const proof = await dpop.tokenRequestProof()
    const cache = new DpopReplayCache()
    const first = await verifyDpopProof(proof, tokenEndpointCheck())
    await checkDpopProofReplay(cache, first, WINDOW)
    const again = await verifyDpopProof(proof, tokenEndpointCheck())
    await expectReason(checkDpopProofReplay(cache, again, WINDOW), 'replayed')
  })

  it('refuses a resource proof for another URL or method', async () => {
    const dpop = await dpopClient()
    const proof = await dpop.resourceRequestProof('t', 'GET', RESOURCE)
    const check = { ...tokenEndpointCheck(), accessToken: 't' }
    await expectReason(verifyDpopProof(proof, { ...check, method: 'GET', url: 'https://api.example.com/orders/43' }), 'htu_mismatch')
    await expectReason(verifyDpopProof(proof, { ...check, method: 'DELETE', url: RESOURCE }), 'htm_mismatch')
  })
})

describe('verifyDpopProof refuses forged and replayed proofs', () => {
  const check = tokenEndpointCheck

  it('accepts the hand-built baseline (so each case below fails for its own reason)', async () => {
    await expect(verifyDpopProof(await handProof(), check())).resolves.toBeDefined()
  })

  it('refuses a proof signed by another key than its jwk', async () => {
    const other = await generateKeyPair('ES256')
    await expectReason(verifyDpopProof(await handProof({ signWith: other.privateKey }), check()), 'signature_invalid')
  })

  it('refuses a second proof reusing a jti with the same key', async () => {
    const cache = new DpopReplayCache()
    const jti = 'fixed-jti'
    await checkDpopProofReplay(cache, await verifyDpopProof(await handProof({ payload: { jti } }), check()), WINDOW)
    const second = await verifyDpopProof(await handProof({ payload: { jti, iat: Math.floor(Date.now() / 1000) - 1 } }), check())
    await expectReason(checkDpopProofReplay(cache, second, WINDOW), 'replayed')
  })

  it('refuses a proof for another method', async () => {
    await expectReason(verifyDpopProof(await handProof({ payload: { htm: 'GET' } }), check()), 'htm_mismatch')
  })

  it('refuses a proof for another URL', async () => {
    await expectReason(verifyDpopProof(await handProof({ payload: { htu: 'https://evil.example.com/oauth/token' } }), check()), 'htu_mismatch')
  })

  it('refuses a proof whose htu is not an absolute URL', async () => {
    await expectReason(verifyDpopProof(await handProof({ payload: { htu: '/oauth/token' } }), check()), 'htu_mismatch')
  })

  it('refuses a stale proof', async () => {
    const iat = Math.floor(Date.now() / 1000) - WINDOW.maxAgeSeconds - WINDOW.clockToleranceSeconds - 2
    await expectReason(verifyDpopProof(await handProof({ payload: { iat } }), check()), 'stale')
  })

  it('refuses a proof issued in the future', async () => {
    const iat = Math.floor(Date.now() / 1000) + WINDOW.clockToleranceSeconds + 30
    await expectReason(verifyDpopProof(await handProof({ payload: { iat } }), check()), 'issued_in_future')
  })

  it('refuses a proof whose ath is the hash of another token', async () => {
    const ath = await accessTokenHash('another.access.token')
    const proof = await handProof({ payload: { htm: 'GET', htu: RESOURCE, ath } })
    await expectReason(verifyDpopProof(proof, check({ method: 'GET', url: RESOURCE, accessToken: 'presented.access.token' })), 'ath_mismatch')
  })

  it('refuses a proof without ath when it comes with an access token', async () => {
    const proof = await handProof({ payload: { htm: 'GET', htu: RESOURCE } })
    await expectReason(verifyDpopProof(proof, check({ method: 'GET', url: RESOURCE, accessToken: 'presented.access.token' })), 'claim_missing')
  })

  it('refuses a proof whose jwk carries the private key', async () => {
    const privateJwk: JWK = await exportJWK(signingKeys.privateKey)
    await expectReason(verifyDpopProof(await handProof({ header: { jwk: privateJwk } }), check()), 'jwk_not_public')
  })

  it('refuses a symmetric jwk', async () => {
    await expectReason(verifyDpopProof(await handProof({ header: { jwk: { kty: 'oct', k: 'c2VjcmV0' } } }), check()), 'jwk_not_public')
  })

  it('refuses a proof without a jwk', async () => {
    await expectReason(verifyDpopProof(await handProof({ header: { jwk: undefined } }), check()), 'jwk_missing')
  })

  it('refuses alg none', async () => {
    const proof = unsigned({ alg: 'none', typ: 'dpop+jwt', jwk: signingJwk }, { jti: 'x', htm: 'POST', htu: TOKEN_ENDPOINT, iat: Math.floor(Date.now() / 1000) })
    await expectReason(verifyDpopProof(proof, check()), 'alg_not_allowed')
  })

  it('refuses HS256', async () => {
    const secret = new TextEncoder().encode('a-shared-secret-the-server-would-have-to-know')
    const proof = await new SignJWT({ jti: 'x', htm: 'POST', htu: TOKEN_ENDPOINT, iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: base64url.encode(secret) } as never })
      .sign(secret)
    await expectReason(verifyDpopProof(proof, check()), 'alg_not_allowed')
  })

  it('refuses an algorithm outside the configured list', async () => {
    await expectReason(verifyDpopProof(await handProof(), check({ algorithms: ['EdDSA'] })), 'alg_not_allowed')
  })

  it('refuses another typ', async () => {
    await expectReason(verifyDpopProof(await handProof({ header: { typ: 'JWT' } }), check()), 'typ_not_allowed')
    await expectReason(verifyDpopProof(await handProof({ header: { typ: 'at+jwt' } }), check()), 'typ_not_allowed')
  })

  it('refuses a proof without jti', async () => {
    const error = await rejection(verifyDpopProof(await handProof({ payload: { jti: undefined } }), check()))
    expect(error).toMatchObject({ reason: 'claim_missing', claim: 'jti' })
  })

  it('refuses a proof without iat', async () => {
    await expectReason(verifyDpopProof(await handProof({ payload: { iat: undefined } }), check()), 'claim_missing')
  })

  it('refuses a missing proof, two proofs in one header, and garbage', async () => {
    const proof = await handProof()
    await expectReason(verifyDpopProof(undefined, check()), 'missing')
    await expectReason(verifyDpopProof(`${proof}, ${proof}`, check()), 'malformed')
    await expectReason(verifyDpopProof('not-a-jwt', check()), 'malformed')
    await expectReason(verifyDpopProof(unsigned({ alg: 'ES256' }, {}, 'x').replace(/^[^.]+/, 'e30x'), check()), 'malformed')
  })
})

describe('DPoP errors', () => {
  it('answers 400 at the token endpoint and 401 with a DPoP challenge at a resource server', async () => {
    const error = (await rejection(verifyDpopProof(await handProof({ header: { typ: 'JWT' } }), tokenEndpointCheck()))) as InvalidDpopProof
    expect(error.status).toBe(400)
    expect(error.code).toBe('invalid_dpop_proof')
    const atResource = error.atResource(['ES256', 'EdDSA'])
    expect(atResource.status).toBe(401)
    expect(atResource.reason).toBe('typ_not_allowed')
    expect(atResource.headers['WWW-Authenticate']).toBe('DPoP error="invalid_dpop_proof", algs="ES256 EdDSA"')
  })

  it('carries the fresh nonce in DPoP-Nonce', () => {
    const error = new UseDpopNonce('nonce required', { reason: 'nonce_missing' }).withFreshNonce('n-2', 'resource', ['ES256'])
    expect(error.status).toBe(401)
    expect(error.headers).toMatchObject({ 'DPoP-Nonce': 'n-2', 'WWW-Authenticate': 'DPoP error="use_dpop_nonce", algs="ES256"' })
  })
})

describe('verifyDpopProof with keys seen before', () => {
  it('keeps telling keys apart: each proof gets its own key\'s thumbprint, and a signature by another key fails', async () => {
    const first = await dpopClient()
    const second = await dpopClient()
    for (let round = 0; round < 2; round++) {
      expect((await verifyDpopProof(await first.tokenRequestProof(), tokenEndpointCheck())).jkt).toBe(await first.thumbprint())
      expect((await verifyDpopProof(await second.tokenRequestProof(), tokenEndpointCheck())).jkt).toBe(await second.thumbprint())
    }
    // The header names the first client's key, the signature is the second's: the kept key must not help it.
    const forged = await handProof({ signWith: (await generateKeyPair('ES256')).privateKey })
    await expect(verifyDpopProof(forged, tokenEndpointCheck())).rejects.toMatchObject({ reason: 'signature_invalid' })
  })

  it('still verifies a key after more keys than it keeps have come by', async () => {
    const early = await dpopClient()
    await verifyDpopProof(await early.tokenRequestProof(), tokenEndpointCheck())
    for (let i = 0; i < 1001; i++) {
      const keys = await generateKeyPair('ES256')
      const jwk = await exportJWK(keys.publicKey)
      await verifyDpopProof(await handProof({ header: { jwk }, signWith: keys.privateKey }), tokenEndpointCheck())
    }
    expect((await verifyDpopProof(await early.tokenRequestProof(), tokenEndpointCheck())).jkt).toBe(await early.thumbprint())
  })
})
