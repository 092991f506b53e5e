import { SignJWT, generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'
import type { JwksCache, VerificationKey } from '../../edge/jwks'
import { VerifiedTokenCache } from '../../edge/verified-token-cache'
import { AccessTokenVerifier } from '../../edge/verify-access-token'
import { accessTokenRules } from '../../shared/access-token-rules'

const ISSUER = 'https://central.test'

async function signedToken() {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const now = Math.floor(Date.now() / 1000)
  const token = await new SignJWT({ sub: 'user-1', sid: 'session-1', aud: ['api'], client_id: 'web', scope: 'read', jti: 'jti-1' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'key-1' })
    .setIssuer(ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(privateKey)
  const key: VerificationKey = { kid: 'key-1', alg: 'ES256', key: publicKey, jwkJson: '{}' }
  return { token, key }
}

/**
 * The key set as the verifier sees it: `knownKey` answers from `keyAt(call)`, so a test can have the
 * key set change between the lookup that picks the key and the signature check's end, as a JWKS
 * refresh on the same isolate can.
 */
function keySet(keyAt: (call: number) => VerificationKey | undefined): JwksCache {
  let calls = 0
  return { knownKey: () => keyAt(++calls), findKey: async () => undefined } as unknown as JwksCache
}

const rules = accessTokenRules({ issuer: ISSUER, clockToleranceSeconds: 30 })

describe('AccessTokenVerifier and the verified-token cache', () => {
  it('caches a token whose key is still the one the key set holds', async () => {
    const { token, key } = await signedToken()
    const cache = new VerifiedTokenCache(10)
    const verified = await new AccessTokenVerifier(rules, keySet(() => key), cache).verify(token, Date.now())
    expect(verified.token.claims.sub).toBe('user-1')
    expect(cache.get(token)).toBe(verified.token)
  })

  it('answers the request but does not cache the token when its key left the key set during the signature check', async () => {
    const { token, key } = await signedToken()
    const cache = new VerifiedTokenCache(10)
    const jwks = keySet((call) => (call === 1 ? key : undefined))
    const verified = await new AccessTokenVerifier(rules, jwks, cache).verify(token, Date.now())
    expect(verified).toMatchObject({ fromCache: false, token: { kid: 'key-1' } })
    expect(cache.size).toBe(0)
  })

  it('does not cache it either when the kid now names other key material', async () => {
    const { token, key } = await signedToken()
    const cache = new VerifiedTokenCache(10)
    const replaced: VerificationKey = { ...key, jwkJson: '{"replaced":true}' }
    await new AccessTokenVerifier(rules, keySet((call) => (call === 1 ? key : replaced)), cache).verify(token, Date.now())
    expect(cache.size).toBe(0)
  })
})
