/**
 * One structured line per request (route, status, reason, durations). Never the token, the query
 * string, or claim values other than the opaque `sub`/`sid`, which operators need to trace a user.
 */
export interface RequestLogEntry {
  /** Always `edge request`; first, so the line reads as it did when it was spread in. */
  msg: 'edge request'
  method: string
  path: string
  route?: string
  status?: number
  /** The `error` code and rule that failed, when the edge answered itself. */
  error?: string
  reason?: string
  sub?: string
  sid?: string
  tokenCache?: 'hit' | 'miss'
  /** Machine-readable rule an access token failed (`InvalidToken.reason`); stable, unlike `reason`. */
  tokenReason?: string
  /** `dpop` when the request proved possession of the token's key (RFC 9449). */
  senderConstrained?: 'dpop'
  /** Machine-readable rule a DPoP proof failed (`InvalidDpopProof.reason`). */
  dpopReason?: string
  /** Whether the revocation check ran on a fresh feed, a too-old one (fail-open), or none. */
  revocationFeed?: 'fresh' | 'off' | 'unavailable'
  verifyMs?: number
  originMs?: number
  totalMs?: number
}

/** Writes the entry as one JSON line (Workers Logs / `wrangler tail` parse it as an object). */
export function writeRequestLog(entry: RequestLogEntry): void {
  console.log(JSON.stringify(entry))
}

/**
 * W3C Server-Timing header for debug mode: where the edge spent its time.
 * @see https://www.w3.org/TR/server-timing/
 */
export function serverTimingHeader(entry: RequestLogEntry): string {
  const metrics: string[] = []
  if (entry.verifyMs !== undefined) metrics.push(`verify;dur=${entry.verifyMs}`)
  if (entry.originMs !== undefined) metrics.push(`origin;dur=${entry.originMs}`)
  if (entry.totalMs !== undefined) metrics.push(`edge;dur=${entry.totalMs}`)
  return metrics.join(', ')
}
