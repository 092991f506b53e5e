import { z } from 'zod'

/**
 * Wire format of central's `GET /edge/revocations`: what was revoked within the last
 * access-token lifetime (+ clock tolerance). Older entries are pointless — every token they
 * could apply to has expired — so the feed is bounded by revocation rate × token lifetime,
 * not by the number of users. Times are epoch seconds, like JWT claims.
 */
export const RevocationFeedSchema = z.object({
  /** Content version; also the ETag, so an unchanged feed answers 304. */
  version: z.string().min(1),
  /**
   * Version of the published signing key set (JWKS). It changes with every key created, retired
   * or unpublished, and the edge refetches the JWKS when it does. Absent from older centrals.
   */
  keys_version: z.string().min(1).optional(),
  generated_at: z.number().int(),
  window_seconds: z.number().int().positive(),
  /** Sessions ended one by one: any token with this `sid` is dead. */
  sessions: z.array(z.object({ sid: z.string().min(1), revoked_at: z.number().int() })),
  /** "Log out everywhere": tokens of this `sub` issued before `not_before` are dead. */
  users: z.array(z.object({ sub: z.string().min(1), not_before: z.number().int() })),
  /**
   * Machine clients disabled, deleted, rotated or narrowed: tokens with this `client_id` issued
   * before `not_before` are dead. Absent from older centrals; older edges ignore it.
   */
  clients: z.array(z.object({ client_id: z.string().min(1), not_before: z.number().int() })).optional(),
})

export type RevocationFeed = z.infer<typeof RevocationFeedSchema>

export const REVOCATION_FEED_PATH = '/edge/revocations'
