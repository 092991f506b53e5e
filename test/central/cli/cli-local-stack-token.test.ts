import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findLocalStackToken } from '../../../central/cli/local-stack-token'
import { TEST_ADMIN_TOKEN } from '../../support/central-app'
import { insertTestUser } from '../../support/users'
import { cliEnvironment, PORTCULLIS_BIN, useCliCentral, type CliResult } from './cli-support'

const cli = useCliCentral()
let folder: string

/** The bin from `cwd`, as a person runs `npx portcullis` in the project folder. */
function runIn(cwd: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PORTCULLIS_BIN, ...args], { cwd, env: cliEnvironment(env), timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    )
  })
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'portcullis-cli-local-'))
  // What `npm start` leaves in the project folder.
  await mkdir(join(folder, '.portcullis'))
  await writeFile(join(folder, '.portcullis', 'local-secrets.json'), JSON.stringify({ adminToken: TEST_ADMIN_TOKEN, metricsToken: 'not-used' }))
  await mkdir(join(folder, 'other-data'))
  await writeFile(join(folder, 'other-data', 'local-secrets.json'), JSON.stringify({ adminToken: TEST_ADMIN_TOKEN }))
  await insertTestUser(cli.db.sql, { username: 'local-stack-user' })
})
afterAll(async () => {
  await rm(folder, { recursive: true, force: true })
})

describe('the CLI against the local stack', () => {
  it("uses the local stack's admin token from .portcullis/local-secrets.json when PORTCULLIS_ADMIN_TOKEN is unset", async () => {
    const result = await runIn(folder, ['users', 'show', 'local-stack-user'], { PORTCULLIS_URL: cli.env.PORTCULLIS_URL! })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/username:\s+local-stack-user/)
  })

  it('reads $PORTCULLIS_DATA_DIR/local-secrets.json when the stack runs with another data folder', async () => {
    const result = await runIn(join(folder, 'other-data', '..'), ['users', 'show', 'local-stack-user'], {
      PORTCULLIS_URL: cli.env.PORTCULLIS_URL!,
      PORTCULLIS_DATA_DIR: 'other-data',
    })
    expect(result.code).toBe(0)
  })

  it('prefers PORTCULLIS_ADMIN_TOKEN when it is set', async () => {
    const result = await runIn(folder, ['users', 'show', 'local-stack-user'], { ...cli.env, PORTCULLIS_ADMIN_TOKEN: 'wrong-token-wrong-token-wrong' })
    expect(result.code).toBe(4)
  })

  it('exits 4 without a token outside a folder with local secrets', async () => {
    const result = await runIn(tmpdir(), ['users', 'show', 'local-stack-user'], { PORTCULLIS_URL: cli.env.PORTCULLIS_URL! })
    expect(result.code).toBe(4)
    expect(result.stderr).toContain('PORTCULLIS_ADMIN_TOKEN is not set')
  })

  it('says so in --help', async () => {
    const result = await runIn(folder, ['--help'], {})
    expect(result.stdout).toContain('.portcullis/local-secrets.json in the current folder')
  })
})

describe('findLocalStackToken', () => {
  it('never offers the local token to a central elsewhere than this machine', () => {
    const found = (baseUrl: string) => findLocalStackToken({ baseUrl, dataDir: undefined, cwd: folder })?.adminToken
    expect(found('http://127.0.0.1:8787')).toBe(TEST_ADMIN_TOKEN)
    expect(found('http://localhost:9787/')).toBe(TEST_ADMIN_TOKEN)
    expect(found('https://auth.example.com')).toBeUndefined()
    expect(found('http://127.0.0.1.example.com:8787')).toBeUndefined()
    expect(found('not a url')).toBeUndefined()
  })
})
