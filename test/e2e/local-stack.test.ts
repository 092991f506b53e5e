import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreePort } from '../../central/db/embedded-postgres'

// `npm start` as a newcomer runs it: central on its embedded database, the edge in workerd via
// wrangler dev, the demo API — here on free ports and a throwaway data folder.
let stack: ChildProcess
let output = ''
let dataDir: string
let edgeUrl: string

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-local-stack-'))
  const [central, edge, demo, inspector] = await Promise.all([findFreePort(), findFreePort(), findFreePort(), findFreePort()])
  edgeUrl = `http://127.0.0.1:${edge}`
  stack = spawn('tsx', ['central/dev/local-stack.ts'], {
    env: {
      ...process.env,
      PORTCULLIS_DATA_DIR: dataDir,
      PORT: String(central),
      LOCAL_EDGE_PORT: String(edge),
      LOCAL_DEMO_ORIGIN_PORT: String(demo),
      LOCAL_EDGE_INSPECTOR_PORT: String(inspector),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  stack.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  stack.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`local stack did not come up:\n${output}`)), 90_000)
    const check = () => {
      if (output.includes('portcullis local stack is up')) {
        clearTimeout(timer)
        resolve()
      }
    }
    stack.stdout!.on('data', check)
    stack.once('exit', (code) => reject(new Error(`local stack exited (${code}):\n${output}`)))
  })
}, 120_000)

afterAll(async () => {
  if (stack.exitCode === null) {
    stack.kill('SIGTERM')
    await new Promise((resolve) => stack.once('exit', resolve))
  }
  await rm(dataDir, { recursive: true, force: true })
}, 60_000)

describe('npm start (local stack)', () => {
  it('prints the edge URL and how to log in', () => {
    expect(output).toContain(`edge (use this)   ${edgeUrl}`)
    expect(output).toContain('/auth/login')
  })

  it('lets the demo user log in through the edge and call the protected demo API', async () => {
    const secrets = JSON.parse(await readFile(join(dataDir, 'local-secrets.json'), 'utf8')) as { demoPassword: string }
    const login = await fetch(`${edgeUrl}/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: secrets.demoPassword }),
    })
    expect(login.status).toBe(200)
    const { access_token } = (await login.json()) as { access_token: string }

    const api = await fetch(`${edgeUrl}/api/orders`, { headers: { Authorization: `Bearer ${access_token}` } })
    expect(api.status).toBe(200)
    const body = (await api.json()) as { identity: Record<string, string> }
    expect(body.identity['x-portcullis-aud']).toBe('demo-api')
    expect(body.identity['x-portcullis-sid']).toMatch(/[0-9a-f-]{36}/)

    const anonymous = await fetch(`${edgeUrl}/api/orders`)
    expect(anonymous.status).toBe(401)
    const publicRoute = await fetch(`${edgeUrl}/api/public/hello`)
    expect(publicRoute.status).toBe(200)
  })

  it('stops everything on SIGTERM', async () => {
    stack.kill('SIGTERM')
    const code = await new Promise((resolve) => stack.once('exit', resolve))
    expect(code).toBe(0)
    await expect(fetch(`${edgeUrl}/api/public/hello`)).rejects.toThrow()
  }, 30_000)
})
