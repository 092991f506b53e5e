import { InvalidToken, PortcullisError, type InvalidTokenReason } from './errors'

/**
 * Which RFC 9449 §4.3 check a DPoP proof failed, for code and tests that must not depend on a
 * message's wording (as `InvalidToken` carries `reason`).
 */
export type DpopProofReason =
  | 'missing'
  | 'malformed'
  | 'typ_not_allowed'
  | 'alg_not_allowed'
  | 'jwk_missing'
  | 'jwk_not_public'
  | 'jwk_invalid'
  | 'signature_invalid'
  | 'claim_missing'
  | 'claim_invalid'
  | 'htm_mismatch'
  | 'htu_mismatch'
  | 'stale'
  | 'issued_in_future'
  | 'ath_mismatch'
  | 'replayed'
  | 'key_mismatch'

/** Which nonce rule a proof failed (RFC 9449 §8 and §9). */
export type DpopNonceReason = 'nonce_missing' | 'nonce_mismatch'

/**
 * Where the proof was checked: the token endpoint answers 400 with an RFC 6749 §5.2 body; a
 * resource server answers 401 with a `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1).
 */
export type DpopCheckSite = 'token_endpoint' | 'resource'

/** RFC 9449 §7.1 challenge: `DPoP error="…", algs="…"`. */
export function dpopChallenge(error: string, algorithms: readonly string[]): string {
  const params = [`error="${error}"`]
  if (algorithms.length > 0) params.push(`algs="${algorithms.join(' ')}"`)
  return `DPoP ${params.join(', ')}`
}

/**
 * RFC 9449 §5 and §7.1: the DPoP proof is missing, malformed or fails a check. Thrown at the
 * token endpoint (400); `atResource` re-states it for a resource server (401 and a challenge).
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export class InvalidDpopProof extends PortcullisError {
  readonly code = 'invalid_dpop_proof'
  readonly status: 400 | 401
  readonly reason: DpopProofReason
  /** The claim or header parameter that failed the rule, when it is about one. */
  readonly claim: string | undefined

  constructor(
    message: string,
    options: { reason: DpopProofReason; claim?: string; cause?: unknown; site?: DpopCheckSite; algorithms?: readonly string[] },
  ) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined)
    this.reason = options.reason
    this.claim = options.claim
    this.status = options.site === 'resource' ? 401 : 400
    if (options.site === 'resource') this.headers['WWW-Authenticate'] = dpopChallenge(this.code, options.algorithms ?? [])
  }

  /** The same failure as a resource server answers it: 401 with `WWW-Authenticate: DPoP`. */
  atResource(algorithms: readonly string[]): InvalidDpopProof {
    return new InvalidDpopProof(this.message, { reason: this.reason, claim: this.claim, cause: this.cause, site: 'resource', algorithms })
  }
}

/**
 * RFC 9449 §8 and §9: the server requires a nonce the proof lacks or has wrong. Carries the
 * fresh nonce in `DPoP-Nonce`, so the client retries once with it.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
export class UseDpopNonce extends PortcullisError {
  readonly code = 'use_dpop_nonce'
  readonly status: 400 | 401
  readonly reason: DpopNonceReason

  constructor(
    message: string,
    options: { reason: DpopNonceReason; freshNonce?: string; site?: DpopCheckSite; algorithms?: readonly string[] },
  ) {
    super(message)
    this.reason = options.reason
    this.status = options.site === 'resource' ? 401 : 400
    if (options.freshNonce !== undefined) this.headers['DPoP-Nonce'] = options.freshNonce
    if (options.site === 'resource') this.headers['WWW-Authenticate'] = dpopChallenge(this.code, options.algorithms ?? [])
  }

  /** The same answer with the nonce the client must use next. */
  withFreshNonce(freshNonce: string, site: DpopCheckSite = 'token_endpoint', algorithms: readonly string[] = []): UseDpopNonce {
    return new UseDpopNonce(this.message, { reason: this.reason, freshNonce, site, algorithms })
  }
}

/**
 * RFC 9449 §7.1: the token itself is unusable here as presented — a DPoP-bound token sent as a
 * bearer token (or in a cookie), a bearer token at a route that requires DPoP, the DPoP scheme with
 * an unbound token. Still `invalid_token`, but the challenge is `DPoP` with the accepted `algs`, so
 * the client learns which scheme to use (`shared/oauth-error-response.ts` writes it).
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export class DpopTokenRequired extends InvalidToken {
  readonly algorithms: readonly string[]

  constructor(message: string, options: { reason: Extract<InvalidTokenReason, 'dpop_required' | 'not_dpop_bound'>; algorithms: readonly string[] }) {
    super(message, { reason: options.reason })
    this.algorithms = options.algorithms
  }
}
