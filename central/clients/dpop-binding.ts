import { InvalidDpopProof } from '../../shared/dpop-errors'

export type DpopBindingDecision =
  /** Go on; the new access token is bound to `accessTokenJkt` (undefined: a Bearer token). */
  | { kind: 'allow'; accessTokenJkt: string | undefined }
  /** Refuse with `invalid_grant`, without counting it as refresh-token reuse. */
  | { kind: 'refuse'; reason: string }

/**
 * Whether a refresh may go on given the key its chain is bound to and the key of the DPoP proof
 * that came with it (both RFC 7638 thumbprints, the proof already verified). A bound chain needs a
 * proof by the same key, so a stolen refresh token alone is worthless (RFC 9449 §5). The refusal
 * leaves the session alone: the presenter proved nothing, so it is no theft signal about the
 * holder's chain, and revoking on it would let anyone holding a copied token end the victim's session.
 * A chain started without DPoP stays unbound (binding happens when the chain is issued), but a
 * request with a valid proof still gets an access token bound to that key (RFC 9449 §5: a token
 * request with a proof yields a DPoP-bound access token).
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
export function decideDpopBinding(chainJkt: string | null, proofJkt: string | undefined): DpopBindingDecision {
  if (chainJkt === null) return { kind: 'allow', accessTokenJkt: proofJkt }
  if (proofJkt === undefined) return { kind: 'refuse', reason: 'refresh token is bound to a DPoP key; send a DPoP proof' }
  if (proofJkt !== chainJkt) return { kind: 'refuse', reason: 'DPoP proof is signed by another key than the refresh token is bound to' }
  return { kind: 'allow', accessTokenJkt: chainJkt }
}

/** A client registered with `require_dpop` must send a DPoP proof; `proofJkt` undefined: none came (RFC 9449 §5). */
export function assertDpopProofSent(required: boolean, proofJkt: string | undefined): void {
  if (required && proofJkt === undefined) throw new InvalidDpopProof('this client must send a DPoP proof', { reason: 'missing' })
}
