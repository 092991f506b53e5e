import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Sql } from 'postgres'
import { loadConfig, type Config } from '../../central/config'
import { startEmbeddedPostgres } from '../../central/db/embedded-postgres'
import { migrateDatabase } from '../../central/db/migrate'
import { createPool } from '../../central/db/pool'
import { ensureSigningKeys } from '../../central/tokens/signing-keys'
import { descendantsCpuMs } from './cpu-usage'
import { startOidcProviderPeer, type OidcProviderPeer } from './oidc-provider-peer'
import { startCentralProcess, type ServiceProcess } from './service-process'

/** What the token-endpoint sections (refresh, client credentials) measure on. */
export interface TokenBenchStage {
  /** Central's environment (its DATABASE_URL is the embedded server's). */
  env: Record<string, string>
  config: Config
  /** The bench's own pool on the same database, as many connections as each service has. */
  sql: Sql
  databaseUrl: string
  central: ServiceProcess
  peer: OidcProviderPeer
  /** CPU ms so far of PostgreSQL's processes: this process's descendants but central and the peer. */
  postgresCpuMs(): number
}

/**
 * One embedded PostgreSQL, migrated and with signing keys; `prepare` seeds it (a user, a client);
 * then central (`central/main.ts`, its own process) and oidc-provider on the same database, each
 * with DATABASE_POOL_MAX connections (default 10); then `run`. Everything is
 * stopped and removed afterwards, whatever `run` did.
 */
export async function withTokenBenchStage<Seed>(
  options: { name: string; prepare: (sql: Sql, config: Config) => Promise<Seed> },
  run: (stage: TokenBenchStage, seed: Seed) => Promise<void>,
): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), `portcullis-bench-${options.name}-`))
  const database = await startEmbeddedPostgres({ dataDir, persistent: false })
  const env = {
    DATABASE_URL: database.url,
    HOST: '127.0.0.1',
    PORT: '0',
    NODE_ENV: 'development',
    // One pool size for the services and the bench's own work (the physical limit), so all have the same connections.
    DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX ?? '10',
  }
  const config = loadConfig(env)
  const sql = createPool(database.url, { max: config.DATABASE_POOL_MAX })
  let central: ServiceProcess | undefined
  let peer: OidcProviderPeer | undefined
  try {
    await migrateDatabase(sql)
    await ensureSigningKeys(sql, config, new Date())
    const seed = await options.prepare(sql, config)
    central = await startCentralProcess(env)
    peer = await startOidcProviderPeer({ databaseUrl: database.url, poolMax: config.DATABASE_POOL_MAX })
    const services = [central.pid, peer.pid]
    await run({ env, config, sql, databaseUrl: database.url, central, peer, postgresCpuMs: () => descendantsCpuMs(process.pid, services) }, seed)
  } finally {
    await peer?.stop()
    await central?.stop()
    await sql.end({ timeout: 5 })
    await database.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
