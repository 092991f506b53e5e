import type { ClientNotBefore } from './client-record'

/** A client's entry in the revocation feed: its tokens with `iat` before `not_before` are dead. */
export interface ClientFeedEntry {
  client_id: string
  not_before: number
}

/**
 * Shapes client markers for the feed in epoch seconds, rounded UP (users' markers are floored):
 * a client has no per-session entries to catch the tokens minted in the marker's own second
 * before it, and `clientTokenIssuedAt` keeps tokens minted after it at or past the rounded second.
 * The edge matches these on the token's `client_id` claim.
 */
export function toClientFeedEntries(markers: readonly ClientNotBefore[]): ClientFeedEntry[] {
  return markers.map((marker) => ({ client_id: marker.clientId, not_before: Math.ceil(marker.notBefore.getTime() / 1000) }))
}
