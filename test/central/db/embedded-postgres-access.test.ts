import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFolderClosedToOthers, startEmbeddedPostgres } from '../../../central/db/embedded-postgres'

describe('an embedded PostgreSQL under a folder the postgres user cannot enter', () => {
  let closed: string
  beforeAll(async () => {
    closed = await mkdtemp(join(tmpdir(), 'portcullis-closed-')) // mkdtemp: mode 700
    await mkdir(join(closed, 'inner', 'data'), { recursive: true })
    await chmod(join(closed, 'inner'), 0o755)
  })
  afterAll(() => rm(closed, { recursive: true, force: true }))

  it('finds the first folder on the way that others cannot enter', async () => {
    expect(await findFolderClosedToOthers(join(closed, 'inner', 'data', 'postgres'))).toBe(closed)
    await chmod(closed, 0o711)
    expect(await findFolderClosedToOthers(join(closed, 'inner', 'data', 'postgres'))).toBeUndefined()
    await chmod(closed, 0o700)
  })

  // As root (CI, the default container) the server runs as 'postgres'; as anyone else it runs
  // as that user, who can enter their own folders.
  it('refuses to start as root with a one-line message naming the folder and the fixes', async () => {
    const start = startEmbeddedPostgres({ dataDir: join(closed, 'inner', 'data'), persistent: false })
    if (process.getuid?.() !== 0) {
      const database = await start
      await database.stop()
      return
    }
    const error = await start.then(() => undefined, (e: unknown) => e as Error)
    expect(error?.message).toBe(
      `the embedded PostgreSQL runs as the user 'postgres', which cannot enter ${closed} (no o+x): ` +
        `clone the project into a folder others can enter, run 'chmod o+x ${closed}', or set DATABASE_URL`,
    )
  })
})
