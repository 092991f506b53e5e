import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Secrets of a developer's local stack, generated once and kept in the (git-ignored) data folder. */
export interface LocalSecrets {
  adminToken: string
  edgeFeedToken: string
  metricsToken: string
  demoPassword: string
  /** portcullis's client secret at the demo identity provider. */
  demoIdpClientSecret: string
}

/** The file the local stack keeps its secrets in; the CLI reads the admin token from it too. */
export const LOCAL_SECRETS_FILE = 'local-secrets.json'

const generators: { [K in keyof LocalSecrets]: () => string } = {
  adminToken: () => randomBytes(24).toString('base64url'),
  edgeFeedToken: () => randomBytes(24).toString('base64url'),
  metricsToken: () => randomBytes(24).toString('base64url'),
  demoPassword: () => randomBytes(9).toString('base64url'),
  demoIdpClientSecret: () => randomBytes(24).toString('base64url'),
}

/**
 * Reads the data folder's secrets, generating any that are missing (a folder from an older
 * version lacks the newer ones) and writing the file back only then.
 */
export async function loadOrCreateLocalSecrets(dataDir: string): Promise<LocalSecrets> {
  const file = join(dataDir, LOCAL_SECRETS_FILE)
  let stored: Partial<LocalSecrets> = {}
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Partial<LocalSecrets>
  } catch {
    // Absent (first start) or unreadable: every secret is generated below.
  }
  const secrets = { ...stored } as LocalSecrets
  let changed = false
  for (const [name, generate] of Object.entries(generators) as [keyof LocalSecrets, () => string][]) {
    if (typeof secrets[name] === 'string' && secrets[name].length > 0) continue
    secrets[name] = generate()
    changed = true
  }
  if (changed) {
    await mkdir(dataDir, { recursive: true })
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 })
  }
  return secrets
}
