/** How far back the revocation feed reaches: a token older than this has expired anyway. */
export function feedWindowSeconds(accessTokenTtlSeconds: number, clockToleranceSeconds: number): number {
  return accessTokenTtlSeconds + clockToleranceSeconds
}
