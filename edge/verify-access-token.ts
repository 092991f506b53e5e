import { checkAccessTokenTimes, type AccessTokenRules, type CheckedAccessTokenHeader } from '../shared/access-token-rules'
import { InvalidToken } from '../shared/errors'
import { assertCanonicalPayloadAndSignature, checkHeaderSegment, checkSignedAccessToken, readHeaderSegment } from './check-access-token'
import type { JwksCache } from './jwks'
import type { VerifiedToken } from './verified-token'
import type { VerifiedTokenCache } from './verified-token-cache'

export interface VerifiedAccessToken {
  token: VerifiedToken
  /** Served from the verified-token cache (no signature check this time). */
  fromCache: boolean
}

/** Headers remembered at most: in practice one per signing key, and made-up ones cannot grow it. */
const MAX_CHECKED_HEADERS = 16

/**
 * The edge's access-token verifier, one per isolate: it owns the key set, the verified-token cache
 * and the checked protected headers, and runs the pure checks of `check-access-token.ts` under the
 * shared rules. A token seen before is served from the cache, its times checked again on every use.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */
export class AccessTokenVerifier {
  /** Checked headers by their base64url text: every token a key signs carries the same header. */
  private readonly checkedHeaders = new Map<string, CheckedAccessTokenHeader>()

  constructor(
    private readonly rules: AccessTokenRules,
    private readonly keys: JwksCache,
    private readonly tokens: VerifiedTokenCache,
  ) {}

  /** Verifies `token` at `nowMs`: its claims, or `InvalidToken` with the rule that failed. */
  async verify(token: string, nowMs: number): Promise<VerifiedAccessToken> {
    const nowSeconds = Math.floor(nowMs / 1000)
    const cached = this.tokens.get(token)
    if (cached) {
      try {
        checkAccessTokenTimes(cached.claims, this.rules, nowSeconds)
      } catch (error) {
        this.tokens.delete(token)
        throw error
      }
      return { token: cached, fromCache: true }
    }

    const headerSegment = readHeaderSegment(token)
    const header = this.checkedHeaders.get(headerSegment) ?? this.checkHeader(headerSegment)
    assertCanonicalPayloadAndSignature(token, headerSegment)

    // Warm isolate: the imported key is a map lookup, no await.
    const key = this.keys.knownKey(header.kid) ?? (await this.keys.findKey(header.kid, nowMs))
    if (!key) throw new InvalidToken('token is signed by an unknown key', { reason: 'unknown_key', claim: 'kid' })
    const verified = await checkSignedAccessToken(token, header, key, this.rules, nowSeconds)

    // A key set that changed while the signature was being checked has already purged the cache of
    // this key's tokens (JwksCache.onKeySetChanged); caching now would bring one back. The token is
    // still valid for this request, which was verified against the keys current when it arrived.
    if (this.keys.knownKey(key.kid) === key) this.tokens.set(token, verified)
    return { token: verified, fromCache: false }
  }

  /** Drops a token from the cache, so a revoked one is checked in full if it comes back. */
  forget(token: string): void {
    this.tokens.delete(token)
  }

  private checkHeader(headerSegment: string): CheckedAccessTokenHeader {
    const checked = checkHeaderSegment(headerSegment, this.rules)
    if (this.checkedHeaders.size < MAX_CHECKED_HEADERS) this.checkedHeaders.set(headerSegment, checked)
    return checked
  }
}
