import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { serve } from '@hono/node-server'
import type { Sql } from 'postgres'
import { systemClock } from './clock'
import { ConfigError, loadConfig, type Config } from './config'
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded-postgres'
import { migrateDatabase } from './db/migrate'
import { createPool } from './db/pool'
import { createAppDeps } from './app-deps'
import { createApp } from './http/app'
import { purgeEndedState } from './retention'
import { ensureSigningKeys } from './tokens/signing-keys'

/** How often ended sessions and stale login counters are purged. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000
/** In-flight requests get this long to finish after SIGTERM before connections are cut. */
const DRAIN_TIMEOUT_MS = 10_000

export interface RunningCentral {
  /** `http://host:port` where central listens (the real port when PORT=0). */
  url: string
  sql: Sql
  /** Stops accepting, drains in-flight requests, closes the pool, stops an embedded database. */
  stop(): Promise<void>
}

type Log = (message: string) => void

/**
 * config → database (DATABASE_URL, else embedded under PORTCULLIS_DATA_DIR) → migrate →
 * signing keys → app → listen. The only place that wires central together.
 */
export async function startCentral(config: Config, log: Log = (m) => console.log(m)): Promise<RunningCentral> {
  let embedded: EmbeddedDatabase | undefined
  let databaseUrl = config.DATABASE_URL
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.PORTCULLIS_DATA_DIR, persistent: true })
    databaseUrl = embedded.url
    log(`embedded PostgreSQL ${embedded.port} (data in ${join(config.PORTCULLIS_DATA_DIR, 'postgres')})`)
  }
  const sql = createPool(databaseUrl, { max: config.DATABASE_POOL_MAX })
  try {
    const applied = await migrateDatabase(sql)
    if (applied.length) log(`applied migrations: ${applied.join(', ')}`)
    await ensureSigningKeys(sql, config, systemClock())
  } catch (error) {
    await sql.end({ timeout: 5 })
    await embedded?.stop()
    throw error
  }

  const app = createApp(createAppDeps({ sql, config, clock: systemClock }))
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }) as Server
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`

  const purgeTimer = setInterval(() => void purgeEndedState(sql, config, systemClock()), PURGE_INTERVAL_MS)
  purgeTimer.unref()
  void purgeEndedState(sql, config, systemClock())

  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(purgeTimer)
      await closeServer(server)
      await sql.end({ timeout: 5 })
      await embedded?.stop()
    })()
    return stopping
  }
  return { url, sql, stop }
}

/**
 * `server.close()` stops accepting and resolves once every connection has closed. Idle
 * keep-alive sockets are closed at once, and again as in-flight requests finish (their
 * sockets turn idle then and would otherwise linger until the keep-alive timeout). After
 * DRAIN_TIMEOUT_MS the remaining connections are cut.
 */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS)
    const sweep = setInterval(() => server.closeIdleConnections(), 50)
    server.close(() => {
      clearTimeout(deadline)
      clearInterval(sweep)
      resolve()
    })
    server.closeIdleConnections()
  })
}

function firstUserHint(config: Config, url: string): string {
  const token = config.ADMIN_TOKEN ? '$ADMIN_TOKEN' : '<ADMIN_TOKEN>'
  const enable = config.ADMIN_TOKEN ? '' : '  (the admin API is off: set ADMIN_TOKEN, at least 24 characters, and restart)\n'
  return (
    'create the first user:\n' +
    enable +
    `  curl -X POST ${url}/admin/users -H "Authorization: Bearer ${token}" -H 'Content-Type: application/json' \\\n` +
    `    -d '{"username":"alice","password":"choose-a-long-password","audiences":["api"],"scopes":["read"],"roles":[]}'`
  )
}

async function main(): Promise<void> {
  let config: Config
  try {
    config = loadConfig(process.env)
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message)
      process.exit(2)
    }
    throw error
  }
  const central = await startCentral(config)
  // One write, so whoever waits for "listening" also has the hint.
  console.log(`portcullis central listening on ${central.url}\n${firstUserHint(config, central.url)}`)

  const shutdown = (signal: string) => {
    console.log(`${signal}: draining in-flight requests, then stopping`)
    central.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(JSON.stringify({ level: 'error', msg: 'unclean shutdown', error: (error as Error).message }))
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(JSON.stringify({ level: 'error', msg: 'central failed to start', error: (error as Error).message }))
    process.exit(1)
  })
}
