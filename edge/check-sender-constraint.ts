import type { AccessTokenClaims } from '../shared/access-token-claims'
import { DpopTokenRequired, InvalidDpopProof } from '../shared/dpop-errors'
import { checkDpopProofReplay, DPOP_ALGORITHMS, verifyDpopProof, type ReplayGuard } from '../shared/dpop-proof'
import type { TokenPresentation } from './extract-token'

export interface SenderConstraintRequest {
  /** How the token was presented (`extractAccessToken`). */
  presentedAs: TokenPresentation
  token: string
  claims: Pick<AccessTokenClaims, 'cnf'>
  /** The route says `"dpop": "required"`. */
  routeRequiresDpop: boolean
  /** The `DPoP` header (several arrive joined by ", ", which fails the proof's shape check). */
  proof: string | null
  method: string
  /** The URL the client sent the request to (the Worker's `request.url`): what `htu` must name. */
  url: string
  nowMs: number
}

export interface SenderConstraintSettings {
  proofMaxAgeSeconds: number
  clockToleranceSeconds: number
  /** Remembers proofs for their window; the isolate's `DpopReplayCache`. */
  replayGuard: ReplayGuard
}

/**
 * Step 3b of the request path: the token's key binding (RFC 9449). A token with `cnf.jkt` is
 * accepted only as `Authorization: DPoP <token>` with a `DPoP` proof for this request — method,
 * URL, `ath` of this token, `iat` within the window, signed by the bound key — never seen before in
 * this isolate. A route with `"dpop": "required"` takes bound tokens only. Returns whether the request
 * was sender-constrained; throws `DpopTokenRequired` (401 `invalid_token`) or `InvalidDpopProof`
 * (401 `invalid_dpop_proof`), both with an RFC 9449 §7.1 `DPoP` challenge.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export async function checkSenderConstraint(request: SenderConstraintRequest, settings: SenderConstraintSettings): Promise<'dpop' | undefined> {
  const jkt = request.claims.cnf?.jkt
  if (jkt === undefined) {
    if (request.presentedAs === 'dpop') {
      throw new DpopTokenRequired('the DPoP scheme needs a DPoP-bound token; send this one as Bearer', { reason: 'not_dpop_bound', algorithms: DPOP_ALGORITHMS })
    }
    if (request.routeRequiresDpop) {
      throw new DpopTokenRequired('this route requires a DPoP-bound access token', { reason: 'dpop_required', algorithms: DPOP_ALGORITHMS })
    }
    return undefined
  }
  // A copied bound token is useless without the key: as Bearer or in a cookie it proves nothing.
  if (request.presentedAs !== 'dpop') {
    throw new DpopTokenRequired('a DPoP-bound token must be sent with the DPoP scheme and a proof', { reason: 'dpop_required', algorithms: DPOP_ALGORITHMS })
  }
  const window = { maxAgeSeconds: settings.proofMaxAgeSeconds, clockToleranceSeconds: settings.clockToleranceSeconds }
  try {
    const verified = await verifyDpopProof(request.proof, {
      method: request.method,
      url: request.url,
      accessToken: request.token,
      boundJkt: jkt,
      now: new Date(request.nowMs),
      ...window,
    })
    await checkDpopProofReplay(settings.replayGuard, verified, window)
  } catch (error) {
    if (error instanceof InvalidDpopProof) throw error.atResource(DPOP_ALGORITHMS)
    throw error
  }
  return 'dpop'
}
