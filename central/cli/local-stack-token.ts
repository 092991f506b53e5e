import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

/** Where `npm start` keeps its generated secrets, relative to the folder it runs in. */
const LOCAL_DATA_DIR = '.portcullis'
const LOCAL_SECRETS_FILE = 'local-secrets.json'

export interface LocalStackToken {
  adminToken: string
  /** The file it came from, for messages. */
  file: string
}

/** Hosts of a central on this machine; only those get the local stack's token. */
function isLoopbackUrl(baseUrl: string): boolean {
  try {
    const { hostname } = new URL(baseUrl)
    return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
  } catch {
    return false
  }
}

/**
 * The admin token of the local stack (`npm start`) when the CLI talks to a central on this
 * machine without PORTCULLIS_ADMIN_TOKEN: read from `<PORTCULLIS_DATA_DIR or .portcullis>/local-secrets.json`
 * under `cwd`, the file the stack generated. Never for a remote URL, so the developer's local
 * token is not sent elsewhere; undefined when there is no such file.
 */
export function findLocalStackToken(input: { baseUrl: string; dataDir: string | undefined; cwd: string }): LocalStackToken | undefined {
  if (!isLoopbackUrl(input.baseUrl)) return undefined
  const file = resolve(input.cwd, input.dataDir || LOCAL_DATA_DIR, LOCAL_SECRETS_FILE)
  try {
    const { adminToken } = JSON.parse(readFileSync(file, 'utf8')) as { adminToken?: unknown }
    return typeof adminToken === 'string' && adminToken.length > 0 ? { adminToken, file } : undefined
  } catch {
    return undefined
  }
}
