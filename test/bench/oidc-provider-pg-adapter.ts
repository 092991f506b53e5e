/**
 * A PostgreSQL storage adapter for panva's `oidc-provider`, for the bench's peer: one table,
 * jsonb payloads, postgres.js, and exactly one statement per adapter call, so the peer pays
 * the database cost a careful production adapter would and no more.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/example/my_adapter.js
 */
import type { Sql } from 'postgres'

/** The payload oidc-provider hands to `upsert` and expects back from `find*`. */
export type AdapterPayload = Record<string, unknown> & {
  grantId?: string
  userCode?: string
  uid?: string
  consumed?: number
}

/** The documented Adapter interface, one instance per model name (`'RefreshToken'`, `'Grant'`, …). */
export interface OidcProviderAdapter {
  upsert(id: string, payload: AdapterPayload, expiresInSeconds?: number): Promise<void>
  find(id: string): Promise<AdapterPayload | undefined>
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>
  findByUid(uid: string): Promise<AdapterPayload | undefined>
  consume(id: string): Promise<void>
  destroy(id: string): Promise<void>
  revokeByGrantId(grantId: string): Promise<void>
}

export const OIDC_PROVIDER_TABLE = 'oidc_provider_payloads'

/**
 * Creates the adapter's table if it is missing. Rows are keyed by (model, id) because ids are
 * unique per model only; grant_id, uid and user_code are the secondary lookups the interface
 * needs, each behind an index so no adapter call scans.
 */
export async function ensureOidcProviderTable(sql: Sql): Promise<void> {
  // Several DDL statements in one simple-protocol round trip; values are all literals.
  await sql.unsafe(`
    create table if not exists ${OIDC_PROVIDER_TABLE} (
      model text not null,
      id text not null,
      payload jsonb not null,
      grant_id text,
      user_code text,
      uid text,
      expires_at timestamptz,
      primary key (model, id)
    );
    create index if not exists ${OIDC_PROVIDER_TABLE}_grant_id on ${OIDC_PROVIDER_TABLE} (grant_id) where grant_id is not null;
    create index if not exists ${OIDC_PROVIDER_TABLE}_uid on ${OIDC_PROVIDER_TABLE} (model, uid) where uid is not null;
    create index if not exists ${OIDC_PROVIDER_TABLE}_user_code on ${OIDC_PROVIDER_TABLE} (model, user_code) where user_code is not null;
  `)
}

/**
 * The adapter class oidc-provider instantiates per model (`adapter: createPostgresAdapter(sql)`).
 * An expired row reads as absent, as an expiring store (the memory adapter's LRU, Redis TTLs)
 * would answer; purging expired rows is a job for outside the request path.
 */
export function createPostgresAdapter(sql: Sql): new (model: string) => OidcProviderAdapter {
  const table = sql(OIDC_PROVIDER_TABLE)
  return class PostgresAdapter implements OidcProviderAdapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresInSeconds?: number): Promise<void> {
      const expiresAt = expiresInSeconds ? new Date(Date.now() + expiresInSeconds * 1000) : null
      await sql`
        insert into ${table} (model, id, payload, grant_id, user_code, uid, expires_at)
        values (${this.model}, ${id}, ${sql.json(payload as Parameters<typeof sql.json>[0])},
                ${payload.grantId ?? null}, ${payload.userCode ?? null}, ${payload.uid ?? null}, ${expiresAt})
        on conflict (model, id) do update
          set payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code,
              uid = excluded.uid, expires_at = excluded.expires_at`
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const [row]: [{ payload: AdapterPayload }?] = await sql`
        select payload from ${table} where model = ${this.model} and id = ${id} and (expires_at is null or expires_at > now())`
      return row?.payload
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const [row]: [{ payload: AdapterPayload }?] = await sql`
        select payload from ${table} where model = ${this.model} and user_code = ${userCode} and (expires_at is null or expires_at > now())`
      return row?.payload
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const [row]: [{ payload: AdapterPayload }?] = await sql`
        select payload from ${table} where model = ${this.model} and uid = ${uid} and (expires_at is null or expires_at > now())`
      return row?.payload
    }

    /** Marks the artifact used; the provider reads `consumed` (epoch seconds) from the payload. */
    async consume(id: string): Promise<void> {
      await sql`
        update ${table}
        set payload = payload || jsonb_build_object('consumed', extract(epoch from now())::bigint)
        where model = ${this.model} and id = ${id}`
    }

    async destroy(id: string): Promise<void> {
      await sql`delete from ${table} where model = ${this.model} and id = ${id}`
    }

    /** Every artifact of the grant, whatever its model, as the reference memory adapter does. */
    async revokeByGrantId(grantId: string): Promise<void> {
      await sql`delete from ${table} where grant_id = ${grantId}`
    }
  }
}
