import { timingSafeEqual } from 'node:crypto'
import { sealing } from './ports'

/** How long a started sign-in may take at the provider. */
export const FLOW_TTL_SECONDS = 600

/** Longest return_to (UTF-8 bytes) a flow carries; past it, `/`: the flow rides in a cookie, 4 KB at most. */
export const MAX_RETURN_TO_BYTES = 2000

const PURPOSE = 'flow-cookie/v1'

/** A sign-in between the redirect to the provider and its callback: what the callback must check. */
export interface PendingFlow {
  state: string
  codeVerifier: string
  nonce: string
  providerId: string
  returnTo: string
  expiresAt: Date
}

/**
 * Seals the flow for the browser's cookie (AES-256-GCM under a key derived from
 * KEY_ENCRYPTION_SECRET, bound to the provider id), so nothing is stored until a sign-in
 * succeeds and any central instance can finish it. Only this browser holds the cookie: a
 * callback URL opened in another browser lacks it (login CSRF), and the PKCE verifier and nonce
 * never reach the provider's redirect.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7.1
 */
export function sealPendingFlow(secret: string, flow: PendingFlow): string {
  const body = { s: flow.state, v: flow.codeVerifier, n: flow.nonce, p: flow.providerId, r: flow.returnTo, e: flow.expiresAt.getTime() }
  return sealing.seal(sealing.key(secret, PURPOSE), Buffer.from(JSON.stringify(body)), flow.providerId).toString('base64url')
}

/**
 * Opens the cookie of a callback for `providerId` carrying `state`: undefined unless it opens
 * under our key for that provider, has not expired, and its state is the callback's.
 */
export function openPendingFlow(secret: string, cookie: string | undefined, input: { providerId: string; state: string; now: Date }): PendingFlow | undefined {
  if (!cookie || cookie.length > 4096) return undefined
  let body: { s?: unknown; v?: unknown; n?: unknown; p?: unknown; r?: unknown; e?: unknown }
  try {
    body = JSON.parse(sealing.open(sealing.key(secret, PURPOSE), Buffer.from(cookie, 'base64url'), input.providerId).toString('utf8'))
  } catch {
    return undefined
  }
  const { s, v, n, p, r, e } = body
  if (typeof s !== 'string' || typeof v !== 'string' || typeof n !== 'string' || typeof p !== 'string' || typeof r !== 'string' || typeof e !== 'number') return undefined
  if (p !== input.providerId || e <= input.now.getTime()) return undefined
  const presented = Buffer.from(input.state)
  const expected = Buffer.from(s)
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return undefined
  return { state: s, codeVerifier: v, nonce: n, providerId: p, returnTo: r, expiresAt: new Date(e) }
}
