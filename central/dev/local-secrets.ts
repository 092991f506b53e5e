import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Secrets of a developer's local stack, generated once and kept in the (git-ignored) data folder. */
export interface LocalSecrets {
  adminToken: string
  edgeFeedToken: string
  metricsToken: string
  demoPassword: string
}

export async function loadOrCreateLocalSecrets(dataDir: string): Promise<LocalSecrets> {
  const file = join(dataDir, 'local-secrets.json')
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LocalSecrets
  } catch {
    const secrets: LocalSecrets = {
      adminToken: randomBytes(24).toString('base64url'),
      edgeFeedToken: randomBytes(24).toString('base64url'),
      metricsToken: randomBytes(24).toString('base64url'),
      demoPassword: randomBytes(9).toString('base64url'),
    }
    await mkdir(dataDir, { recursive: true })
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 })
    return secrets
  }
}
