import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database'

const ADMIN_TOKEN = 'main-test-admin-token-0123456789'
const root = new URL('../..', import.meta.url).pathname

interface Central {
  child: ChildProcessWithoutNullStreams
  url: string
  output: () => string
  exited: Promise<number | null>
}

/** Runs `node --import tsx central/main.ts` as operators would, and waits for its "listening" line. */
async function spawnCentral(env: Record<string, string>): Promise<Central> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', 'central/main.ts'], {
    cwd: root,
    env: { ...inherited, PORT: '0', HOST: '127.0.0.1', ADMIN_TOKEN, ...env },
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match) resolve(match[1]!)
    }
    child.stdout.on('data', onData)
    void exited.then((code) => reject(new Error(`central exited (${code}) before listening:\n${output}`)))
  })
  return { child, url, output: () => output, exited }
}

function waitForOutput(central: Central, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (pattern.test(central.output())) {
        central.child.stdout.off('data', check)
        resolve()
      }
    }
    central.child.stdout.on('data', check)
    check()
  })
}

describe('central/main.ts with DATABASE_URL', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false })
  })
  afterAll(() => db.drop())

  it('migrates, serves, prints how to create the first user, and drains an in-flight request on SIGTERM', async () => {
    const central = await spawnCentral({ DATABASE_URL: db.url })
    try {
      expect(central.output()).toContain('create the first user')
      expect(central.output()).toContain(`${central.url}/admin/users`)
      const health = await fetch(`${central.url}/healthz`)
      expect(health.status).toBe(200)
      const [key] = await db.sql`select kid from signing_keys`
      expect(key).toBeDefined()

      // A request whose headers have arrived (the server answered `100 Continue`) but whose
      // body has not: in flight when SIGTERM lands.
      const body = JSON.stringify({ username: 'drained', password: 'password-1' })
      const { port } = new URL(central.url)
      const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/admin/users',
          headers: {
            Authorization: `Bearer ${ADMIN_TOKEN}`,
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            Expect: '100-continue',
          },
        })
        req.on('continue', () => {
          central.child.kill('SIGTERM')
          void waitForOutput(central, /SIGTERM: draining/).then(() => req.end(body))
        })
        req.on('response', (res) => {
          let text = ''
          res.on('data', (chunk) => (text += chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        })
        req.on('error', reject)
        req.flushHeaders()
      })
      const answered = await response.catch((error: Error) => {
        throw new Error(`${error.message}\n${central.output()}`)
      })
      expect(answered.status).toBe(201)
      expect(JSON.parse(answered.text)).toMatchObject({ username: 'drained' })
      expect(await central.exited).toBe(0)
      expect(await db.sql`select 1 from users where username = 'drained'`).toHaveLength(1)
      await expect(fetch(`${central.url}/healthz`)).rejects.toThrow()
    } finally {
      central.child.kill('SIGKILL')
    }
  })

  it('fails at start with a message naming a bad variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'central/main.ts'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, PORT: 'not-a-port' },
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(2)
    expect(stderr).toContain('PORT')
  })
})

describe('central/main.ts with the embedded database', () => {
  let dataDir: string
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'portcullis-main-'))
  })
  afterAll(() => rm(dataDir, { recursive: true, force: true }))

  it('starts PostgreSQL under PORTCULLIS_DATA_DIR, is ready, and stops it on SIGTERM', async () => {
    const central = await spawnCentral({ PORTCULLIS_DATA_DIR: dataDir })
    try {
      const pidFile = join(dataDir, 'postgres', 'postmaster.pid')
      expect(existsSync(pidFile)).toBe(true)
      const ready = await fetch(`${central.url}/readyz`)
      expect(ready.status).toBe(200)
      central.child.kill('SIGTERM')
      expect(await central.exited).toBe(0)
      expect(existsSync(pidFile)).toBe(false)
    } finally {
      central.child.kill('SIGKILL')
    }
  }, 120_000)
})
