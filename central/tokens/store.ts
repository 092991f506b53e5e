import type { PendingQuery, Row } from 'postgres'
import type { Queryable } from '../db/pool'

/** A signing key row. `privateJwkSealed` opens only with the key-encryption secret. */
export interface SigningKeyRow {
  kid: string
  alg: string
  publicJwk: Record<string, unknown>
  privateJwkSealed: Buffer
  createdAt: Date
  activatesAt: Date
  retiredAt: Date | null
  unpublishAt: Date | null
}

/** Any constant works; it only has to be the same for every central instance. */
const SIGNING_KEY_LOCK_ID = 7_340_012_002

/**
 * Serialises key creation and rotation across instances for the rest of the transaction,
 * so two instances starting at once create one first key, not two.
 */
export async function lockSigningKeys(tx: Queryable): Promise<void> {
  await tx`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK_ID})`
}

/** Every key, newest activation first (the table holds a handful of rows). */
export async function selectSigningKeys(sql: Queryable): Promise<SigningKeyRow[]> {
  const rows = await sql<
    { kid: string; alg: string; public_jwk: Record<string, unknown>; private_jwk_sealed: Buffer; created_at: Date; activates_at: Date; retired_at: Date | null; unpublish_at: Date | null }[]
  >`select kid, alg, public_jwk, private_jwk_sealed, created_at, activates_at, retired_at, unpublish_at
    from signing_keys order by activates_at desc, created_at desc`
  return rows.map((r) => ({
    kid: r.kid,
    alg: r.alg,
    publicJwk: r.public_jwk,
    privateJwkSealed: r.private_jwk_sealed,
    createdAt: r.created_at,
    activatesAt: r.activates_at,
    retiredAt: r.retired_at,
    unpublishAt: r.unpublish_at,
  }))
}

/**
 * The published key set's version inputs as one SQL expression (text), for the edge feed's version
 * query: any insert or retirement changes the count or a sum, and a scheduled unpublish moves the
 * last count when its time passes. That time is the database's, which every central instance
 * shares, so all of them compute the same version at the same moment.
 */
export function signingKeySetVersionInputs(sql: Queryable): PendingQuery<Row[]> {
  return sql`(select concat_ws(',', count(*), max(created_at), sum(extract(epoch from activates_at)),
      sum(extract(epoch from retired_at)), sum(extract(epoch from unpublish_at)),
      count(*) filter (where unpublish_at <= statement_timestamp()))
    from signing_keys)`
}

export async function insertSigningKey(sql: Queryable, key: SigningKeyRow): Promise<void> {
  await sql`
    insert into signing_keys (kid, alg, public_jwk, private_jwk_sealed, created_at, activates_at, retired_at, unpublish_at)
    values (${key.kid}, ${key.alg}, ${sql.json(key.publicJwk as never)}, ${key.privateJwkSealed}, ${key.createdAt},
            ${key.activatesAt}, ${key.retiredAt}, ${key.unpublishAt})`
}

/** Schedules a key's retirement (it stops signing at `retiredAt`, leaves the JWKS at `unpublishAt`). */
export async function scheduleKeyRetirement(sql: Queryable, kid: string, retiredAt: Date, unpublishAt: Date): Promise<void> {
  await sql`update signing_keys set retired_at = ${retiredAt}, unpublish_at = ${unpublishAt} where kid = ${kid}`
}
