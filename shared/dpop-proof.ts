import { base64url, calculateJwkThumbprint, decodeProtectedHeader, errors, importJWK, jwtVerify, type JWK } from 'jose'
import { InvalidDpopProof, UseDpopNonce, type DpopProofReason } from './dpop-errors'

/** RFC 9449 §4.2: the JOSE `typ` of a DPoP proof. */
export const DPOP_PROOF_TYPE = 'dpop+jwt'

/**
 * Proof algorithms accepted by default (also what `dpop_signing_alg_values_supported` lists).
 * Asymmetric only (RFC 9449 §4.3 check 5): a MAC key would have to be shared with the server.
 * `Ed25519` is the fully specified name for EdDSA over Ed25519 (RFC 9864).
 */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'] as const
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number]

/** A proof is one header value; an RSA-4096 `jwk` is about 1 KiB, so this leaves ample room. */
const MAX_PROOF_LENGTH = 8192
/** Three parts; an empty signature passes the shape so that `alg: none` is refused by name. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
/** Bounds what a replay store keeps per proof. */
const MAX_JTI_LENGTH = 256

/** The members a public key has, per key type (RFC 7518 §6): anything else is dropped before import. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
  RSA: ['kty', 'n', 'e'],
}
/** RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2: members only a private key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

export interface DpopProofCheck {
  /** The request's method, compared with `htm` exactly (RFC 9110 methods are case-sensitive). */
  method: string
  /** The URL the client sent the request to, as the client saw it (scheme and host included). */
  url: string | URL
  /** When the proof accompanies an access token: `ath` must be its hash (RFC 9449 §4.3 check 11). */
  accessToken?: string
  /** The key the access token is bound to (`cnf.jkt`): the proof must be signed by it (check 12). */
  boundJkt?: string
  /** Nonces the server currently accepts; when given, the proof must carry one (RFC 9449 §8). */
  nonce?: string | readonly string[]
  now: Date
  /** How long after its `iat` a proof is accepted (RFC 9449 §11.1: keep it short). */
  maxAgeSeconds: number
  clockToleranceSeconds: number
  algorithms?: readonly string[]
}

/** What a verified proof tells: the key (RFC 7638 thumbprint) and what a replay check needs. */
export interface VerifiedDpopProof {
  jkt: string
  jti: string
  /** `iat` in epoch seconds. */
  iat: number
}

const fail = (message: string, reason: DpopProofReason, claim?: string, cause?: unknown): never => {
  throw new InvalidDpopProof(message, { reason, ...(claim === undefined ? {} : { claim }), ...(cause === undefined ? {} : { cause }) })
}

/**
 * Verifies a `DPoP` header value against the request it came with, in the order of RFC 9449 §4.3:
 * one well-formed JWT, `typ` `dpop+jwt`, an allowed asymmetric `alg`, a public `jwk` that verifies
 * the signature, then `htm`, `htu`, `iat` in the window, `jti`, `ath` and `nonce`. Pure apart from
 * the crypto: replay is the caller's step (`checkDpopProofReplay`), with the store it owns.
 * Throws `InvalidDpopProof` or `UseDpopNonce`, each with a machine-readable `reason`.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export async function verifyDpopProof(proof: string | null | undefined, check: DpopProofCheck): Promise<VerifiedDpopProof> {
  if (proof === null || proof === undefined || proof === '') fail('no DPoP proof presented', 'missing')
  const jws = proof as string
  // Check 1: exactly one proof; several DPoP headers arrive joined by ", " and fail this shape.
  if (jws.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(jws)) fail('DPoP proof is not a single compact JWS', 'malformed')

  let header: Record<string, unknown>
  try {
    header = decodeProtectedHeader(jws) as Record<string, unknown>
  } catch (error) {
    return fail('DPoP proof header is not valid JSON', 'malformed', undefined, error)
  }
  if (!isProofType(header.typ)) fail(`DPoP proof type must be ${DPOP_PROOF_TYPE}`, 'typ_not_allowed', 'typ')
  const algorithms = check.algorithms ?? DPOP_ALGORITHMS
  const alg = header.alg
  if (typeof alg !== 'string' || !algorithms.includes(alg)) fail('DPoP proof algorithm is not an accepted asymmetric algorithm', 'alg_not_allowed', 'alg')
  const publicJwk = readPublicJwk(header.jwk)

  const keyId = proofKeyId(publicJwk, alg as string)
  const known = proofKeys.get(keyId)
  let key: ProofKey['key']
  try {
    key = known?.key ?? (await importJWK(publicJwk, alg as string))
  } catch (error) {
    return fail('DPoP proof jwk does not fit its algorithm', 'jwk_invalid', 'jwk', error)
  }
  let payload: Record<string, unknown>
  try {
    // jose checks the signature, and `exp`/`nbf` should a proof carry them.
    ;({ payload } = await jwtVerify(jws, key, { algorithms: [alg as string], currentDate: check.now, clockTolerance: check.clockToleranceSeconds }))
  } catch (error) {
    if (error instanceof errors.JWSSignatureVerificationFailed) return fail('DPoP proof signature does not verify with its jwk', 'signature_invalid', undefined, error)
    if (error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired) {
      return fail('DPoP proof claims are not valid now', 'claim_invalid', error.claim, error)
    }
    return fail('DPoP proof is malformed', 'malformed', undefined, error)
  }
  // Kept only once it has verified a signature: forged proofs cannot push real keys out.
  const jkt = known?.jkt ?? rememberProofKey(keyId, { key, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') }).jkt

  const { jti, htm, htu, iat, ath, nonce } = payload
  if (typeof jti !== 'string' || jti === '') fail('DPoP proof has no jti', 'claim_missing', 'jti')
  if ((jti as string).length > MAX_JTI_LENGTH) fail('DPoP proof jti is too long', 'claim_invalid', 'jti')
  if (typeof htm !== 'string') fail('DPoP proof has no htm', 'claim_missing', 'htm')
  if (htm !== check.method) fail('DPoP proof is for another HTTP method', 'htm_mismatch', 'htm')
  if (typeof htu !== 'string') fail('DPoP proof has no htu', 'claim_missing', 'htu')
  const proofUrl = normalizeHtu(htu as string)
  if (proofUrl === undefined || proofUrl !== normalizeHtu(check.url)) fail('DPoP proof is for another URL', 'htu_mismatch', 'htu')
  if (iat === undefined) fail('DPoP proof has no iat', 'claim_missing', 'iat')
  if (typeof iat !== 'number' || !Number.isFinite(iat)) fail('DPoP proof iat is not a number', 'claim_invalid', 'iat')
  const nowSeconds = check.now.getTime() / 1000
  if ((iat as number) > nowSeconds + check.clockToleranceSeconds) fail('DPoP proof was issued in the future', 'issued_in_future', 'iat')
  if ((iat as number) < nowSeconds - check.maxAgeSeconds - check.clockToleranceSeconds) fail('DPoP proof is too old', 'stale', 'iat')

  if (check.accessToken !== undefined) {
    if (typeof ath !== 'string') fail('DPoP proof has no ath for the access token', 'claim_missing', 'ath')
    if (ath !== (await accessTokenHash(check.accessToken))) fail('DPoP proof ath is not the hash of this access token', 'ath_mismatch', 'ath')
  }
  if (check.nonce !== undefined) {
    const accepted = typeof check.nonce === 'string' ? [check.nonce] : check.nonce
    if (typeof nonce !== 'string') throw new UseDpopNonce('this server requires a DPoP nonce', { reason: 'nonce_missing' })
    if (!accepted.includes(nonce as string)) throw new UseDpopNonce('DPoP nonce is not current', { reason: 'nonce_mismatch' })
  }

  if (check.boundJkt !== undefined && jkt !== check.boundJkt) fail('DPoP proof is signed by another key than the token is bound to', 'key_mismatch', 'jwk')
  return { jkt, jti: jti as string, iat: iat as number }
}

/** A proof's public key, imported for its algorithm, with its RFC 7638 thumbprint. */
interface ProofKey {
  key: Awaited<ReturnType<typeof importJWK>>
  jkt: string
}

/**
 * A client signs proof after proof with one key: its import and thumbprint (more than half of a
 * proof check's CPU in Node, measured) are kept per isolate or process, by algorithm and public
 * members. Public keys only, and bounded: when full, the oldest entry goes.
 */
const proofKeys = new Map<string, ProofKey>()
const MAX_PROOF_KEYS = 1000

/** One key, one spelling: readPublicJwk lists the public members in a fixed order. */
function proofKeyId(publicJwk: JWK, alg: string): string {
  return `${alg}:${JSON.stringify(publicJwk)}`
}

function rememberProofKey(id: string, proofKey: ProofKey): ProofKey {
  if (proofKeys.size >= MAX_PROOF_KEYS) proofKeys.delete(proofKeys.keys().next().value!)
  proofKeys.set(id, proofKey)
  return proofKey
}

/** RFC 7515 §4.1.9: `typ` may omit the `application/` prefix and is compared case-insensitively. */
function isProofType(typ: unknown): boolean {
  if (typeof typ !== 'string') return false
  const normalized = typ.toLowerCase()
  return normalized === DPOP_PROOF_TYPE || normalized === `application/${DPOP_PROOF_TYPE}`
}

/**
 * RFC 9449 §4.3 checks 4 and 6: the `jwk` header is a public key of a known type. A private member
 * means the client leaked its key (and would let us sign as it): refused, not stripped.
 */
function readPublicJwk(jwk: unknown): JWK {
  if (jwk === undefined) fail('DPoP proof has no jwk header', 'jwk_missing', 'jwk')
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) fail('DPoP proof jwk is not a JSON object', 'jwk_invalid', 'jwk')
  const members = jwk as Record<string, unknown>
  if (PRIVATE_MEMBERS.some((name) => Object.hasOwn(members, name))) fail('DPoP proof jwk carries private key material', 'jwk_not_public', 'jwk')
  const names = typeof members.kty === 'string' ? PUBLIC_MEMBERS[members.kty] : undefined
  if (!names) fail('DPoP proof jwk has an unsupported key type', 'jwk_invalid', 'jwk')
  const publicJwk: Record<string, string> = {}
  for (const name of names!) {
    const value = members[name]
    if (typeof value !== 'string' || value === '') fail(`DPoP proof jwk lacks ${name}`, 'jwk_invalid', 'jwk')
    publicJwk[name] = value as string
  }
  return publicJwk as JWK
}

/**
 * RFC 9449 §4.3 check 9: the URL without query and fragment, with scheme and host lowercased and
 * a default port dropped (RFC 3986 §6.2.2 and §6.2.3, as the WHATWG URL parser does).
 * Undefined when it is not an absolute http(s) URL.
 */
export function normalizeHtu(url: string | URL): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`
}

/**
 * RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII bytes.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
export async function accessTokenHash(accessToken: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))
  return base64url.encode(new Uint8Array(digest))
}

/**
 * Remembers proofs for as long as they could pass the `iat` window, and answers whether one was
 * seen already. `seen` records the key when it is new, atomically: of two racing calls with the
 * same key, one gets `false`.
 */
export interface ReplayGuard {
  seen(key: string, expiresAt: Date): boolean | Promise<boolean>
}

/**
 * RFC 9449 §11.1: refuses a proof whose `jti` was seen before for the same key. Keyed by
 * thumbprint and `jti`, so one client cannot use up another's identifiers. The entry is kept until
 * the proof would fail the `iat` check anyway.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export async function checkDpopProofReplay(
  guard: ReplayGuard,
  proof: VerifiedDpopProof,
  window: { maxAgeSeconds: number; clockToleranceSeconds: number },
): Promise<void> {
  const expiresAt = new Date((proof.iat + window.maxAgeSeconds + window.clockToleranceSeconds) * 1000)
  if (await guard.seen(`${proof.jkt}:${proof.jti}`, expiresAt)) fail('DPoP proof was used before', 'replayed', 'jti')
}
