import type { Sql } from 'postgres'
import type { Queryable } from '../db/pool'
import type { ClientNotBefore } from '../clients/client-record'
import { clientRevocationsVersionInputs, findClientNotBeforesSince } from '../clients/store'
import { signingKeySetVersionInputs } from '../tokens/store'

export interface RevokedSession {
  sessionId: string
  revokedAt: Date
}

export interface UserNotBefore {
  userId: string
  notBefore: Date
}

export interface RecentRevocations {
  sessions: RevokedSession[]
  users: UserNotBefore[]
  /** Machine clients whose tokens issued before a marker are dead. */
  clients: ClientNotBefore[]
  /** The published signing keys' version inputs, so a key change reaches the edge with the feed. */
  keySetVersionInputs: string
}

/**
 * Count and bounds of the revocations after `since`, as text (microsecond timestamps). Any
 * change to the feed changes them: a new entry raises a count (its timestamp is "now", or the
 * count catches a late commit), an entry ageing out lowers a count and moves a minimum. A
 * user's not-before marker can also move forward while the user stays listed (a second
 * revoke-all, a grant removed), possibly between the bounds: the sum of the markers catches
 * that. So this one index-only aggregate can stand for the whole feed's version.
 */
export async function findRevocationsVersionInputs(sql: Queryable, since: Date): Promise<string> {
  const [row] = await sql<{ inputs: string }[]>`
    select concat_ws('|',
      (select concat_ws(',', count(*), min(revoked_at), max(revoked_at)) from sessions where revoked_at > ${since}),
      (select concat_ws(',', count(*), min(not_before), max(not_before), sum(extract(epoch from not_before)))
       from users where not_before > ${since}),
      ${signingKeySetVersionInputs(sql)},
      ${clientRevocationsVersionInputs(sql, since)}
    ) as inputs`
  return row!.inputs
}

/**
 * Everything revoked after `since`, and the key set's version inputs: sessions ended one by one, and users whose sessions were all
 * ended (their not-before marker). Both come from indexed columns the session store already
 * writes, so no path that ends a session can forget to feed the edge.
 */
export async function findRevocationsSince(sql: Queryable, since: Date): Promise<RecentRevocations> {
  const sessions = await sql<{ id: string; revoked_at: Date }[]>`
    select id, revoked_at from sessions where revoked_at > ${since} order by revoked_at, id`
  const users = await sql<{ id: string; not_before: Date }[]>`
    select id, not_before from users where not_before > ${since} order by not_before, id`
  const clients = await findClientNotBeforesSince(sql, since)
  const [keys] = await sql<{ inputs: string }[]>`select ${signingKeySetVersionInputs(sql)} as inputs`
  return {
    sessions: sessions.map((row) => ({ sessionId: row.id, revokedAt: row.revoked_at })),
    users: users.map((row) => ({ userId: row.id, notBefore: row.not_before })),
    clients,
    keySetVersionInputs: keys!.inputs,
  }
}

/**
 * Runs `read` in one read-only REPEATABLE READ snapshot, so a feed's version and its entries
 * describe the same set of revocations even while other instances revoke concurrently.
 */
export function inFeedSnapshot<T>(sql: Sql, read: (tx: Queryable) => Promise<T>): Promise<T> {
  return sql.begin('isolation level repeatable read read only', (tx) => read(tx)) as Promise<T>
}
