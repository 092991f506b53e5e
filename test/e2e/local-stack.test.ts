import { execFile, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { get } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CookieJar, signInAtProvider } from '../support/upstream-provider'
import { findFreeStackPorts, REPO_ROOT, spawnLocalStack, startLocalStackProcess, type LocalStackProcess } from './local-stack-process'

// `npm start` as a newcomer runs it (see local-stack-process.ts), with ADMIN_TOKEN set as README's
// "Creating the first user" suggests.
const ADMIN_TOKEN = randomBytes(24).toString('base64url')
const repoRoot = REPO_ROOT

let local: LocalStackProcess
let stack: ChildProcess
let dataDir: string
let edgeUrl: string
let centralUrl: string
let stackEnv: Record<string, string>

beforeAll(async () => {
  local = await startLocalStackProcess({ ADMIN_TOKEN })
  stack = local.child
  ;({ dataDir, edgeUrl, centralUrl } = local)
  stackEnv = local.env
}, 120_000)

afterAll(async () => {
  await local?.stop()
}, 60_000)

function startLocalStack(env: Record<string, string>): ChildProcess {
  return spawnLocalStack(env)
}

/** Runs a command the welcome text printed, in bash from `cwd`, as a person pasting it would. */
function runPrinted(command: string, options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    )
  })
}

/** The printed lines after `heading`, up to the next line that does not start with two spaces. */
function printedBlock(heading: string): string {
  const lines = local.output().split('\n')
  const start = lines.findIndex((line) => line.startsWith(heading))
  expect(start, `no "${heading}" in the welcome text:\n${local.output()}`).toBeGreaterThanOrEqual(0)
  const block: string[] = []
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break
    block.push(line)
  }
  return block.join('\n')
}

const navigate = { 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document', Accept: 'text/html' }

describe('npm start (local stack)', () => {
  it('prints the edge URL, the demo app and how to log in', () => {
    expect(local.output()).toContain(`edge (use this)   ${edgeUrl}`)
    expect(local.output()).toContain(`open ${edgeUrl}/app/ → Sign in with Demo IdP → log in as alice (any password)`)
    expect(local.output()).toContain('/auth/login')
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

  it('prints the admin token central uses (ADMIN_TOKEN, not the generated one), and its "create another user" command works', async () => {
    const secrets = JSON.parse(await readFile(join(dataDir, 'local-secrets.json'), 'utf8')) as { adminToken: string }
    expect(secrets.adminToken).not.toBe(ADMIN_TOKEN)
    expect(local.output()).toContain(`ADMIN_TOKEN       ${ADMIN_TOKEN}   (from $ADMIN_TOKEN)`)
    expect(local.output()).not.toContain(secrets.adminToken)
    const created = await runPrinted(printedBlock('Create another user:'))
    expect(created.code).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({ username: 'bob' })
  })

  it('prints CLI commands that work as printed (with the token the person set)', async () => {
    const cli = printedBlock('The CLI')
    expect(cli).toContain('PORTCULLIS_ADMIN_TOKEN="$ADMIN_TOKEN" npx portcullis users show alice')
    const shown = await runPrinted(cli.split('\n')[0]!, { env: { ADMIN_TOKEN } })
    expect(shown.stderr).not.toContain('portcullis:')
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(/username:\s+alice/)
  })

  it('prints the metrics token and a scrape command that works', async () => {
    const secrets = JSON.parse(await readFile(join(dataDir, 'local-secrets.json'), 'utf8')) as { metricsToken: string }
    expect(local.output()).toContain(`METRICS_TOKEN     ${secrets.metricsToken}`)
    const scraped = await runPrinted(printedBlock('Metrics'))
    expect(scraped.code).toBe(0)
    expect(scraped.stdout).toContain('# TYPE')
  })

  it('prints each edge log line once, also those that contain "error"', async () => {
    const path = `/api/once-${randomBytes(6).toString('hex')}`
    const refused = await fetch(`${edgeUrl}${path}`)
    expect(refused.status).toBe(401)
    const lines = () => local.output().split('\n').filter((line) => line.includes(`"path":"${path}"`))
    await expect.poll(() => lines().length, { timeout: 10_000 }).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(lines()).toHaveLength(1)
    expect(lines()[0]).toContain('"error":"invalid_token"')
  })

  it("forwards /openapi.json to central's API description", async () => {
    const response = await fetch(`${edgeUrl}/openapi.json`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ openapi: '3.1.0' })
  })

  it('sends a page load of /app/ without a session to the sign-in page, which offers the Demo IdP', async () => {
    const page = await navigateTo(`${edgeUrl}/app/`)
    expect(page.status).toBe(302)
    expect(page.location).toBe(`/auth/sign-in?return_to=${encodeURIComponent(`${edgeUrl}/app/`)}`)
    const signIn = await fetch(`${edgeUrl}/auth/sign-in`)
    expect(await signIn.text()).toContain('Sign in with Demo IdP')
    // Through the edge, the metadata names the edge (PUBLIC_URL), where browsers and clients are.
    const metadata = (await (await fetch(`${edgeUrl}/.well-known/oauth-authorization-server`)).json()) as { token_endpoint: string }
    expect(metadata.token_endpoint).toBe(`${edgeUrl}/oauth/token`)
  })

  it('signs alice in at the Demo IdP (another site: localhost) and shows her identity on /app/', async () => {
    const jar = new CookieJar()
    const start = await fetch(`${edgeUrl}/auth/sign-in/demo?return_to=%2Fapp%2F`, { redirect: 'manual' })
    jar.store(edgeUrl, start)
    const authorization = new URL(start.headers.get('location')!)
    expect(authorization.origin).toBe(`http://localhost:${stackEnv.LOCAL_IDP_PORT}`)
    const callback = await signInAtProvider(jar, authorization.href, 'alice')
    expect(callback.startsWith(`${edgeUrl}/auth/callback/demo?`)).toBe(true)
    const back = await fetch(callback, { headers: { cookie: jar.header(callback) }, redirect: 'manual' })
    expect(back.status).toBe(302)
    jar.store(callback, back)
    const app = await fetch(`${edgeUrl}/app/`, { headers: { ...navigate, cookie: jar.header(`${edgeUrl}/app/`) }, redirect: 'manual' })
    expect(app.status).toBe(200)
    const html = await app.text()
    expect(html).toMatch(/<tr data-field="roles"><th scope="row">roles<\/th><td>engineer support<\/td><\/tr>/)
    expect(html).toContain('x-portcullis-sub')
    expect(html).toContain('href="/auth/sign-out?return_to=/app/"')
    const user = await runPrinted(`curl -sf ${centralUrl}/admin/users/alice%40example.com -H "Authorization: Bearer $ADMIN_TOKEN"`, { env: { ADMIN_TOKEN } })
    // The roles came from the provider's groups for this session; the user holds only the provider's grant.
    expect(JSON.parse(user.stdout)).toMatchObject({ username: 'alice@example.com', roles: [] })
  })

  it('a second npm start on the same ports and data folder names what is busy and exits 1, starting nothing', async () => {
    const second = await runToExit(startLocalStack(stackEnv))
    expect(second.code).toBe(1)
    expect(second.output).toContain(`port ${stackEnv.PORT} for central (PORT) is already in use`)
    expect(second.output).toContain(`port ${stackEnv.LOCAL_EDGE_PORT} for edge (LOCAL_EDGE_PORT) is already in use`)
    expect(second.output).toContain(`the data folder ${dataDir} is in use by a running PostgreSQL`)
    expect(second.output).not.toMatch(/triggerUncaughtException|at .*\.ts:\d+/)
    // The first stack is untouched.
    expect((await fetch(`${edgeUrl}/api/public/hello`)).status).toBe(200)
  }, 60_000)

  it('a second npm start on free ports but the same data folder says the folder is in use', async () => {
    const ports = await findFreeStackPorts()
    const second = await runToExit(
      startLocalStack({ PORTCULLIS_DATA_DIR: dataDir, ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])) }),
    )
    expect(second.code).toBe(1)
    expect(second.output).toContain(`the data folder ${dataDir} is in use by a running PostgreSQL`)
    expect(second.output).toContain(`PORTCULLIS_DATA_DIR=${dataDir}-2 npm start`)
    expect(second.output).not.toContain('already in use')
  }, 60_000)

  it('stops everything on SIGTERM', async () => {
    stack.kill('SIGTERM')
    const code = await new Promise((resolve) => stack.once('exit', resolve))
    expect(code).toBe(0)
    await expect(fetch(`${edgeUrl}/api/public/hello`)).rejects.toThrow()
  }, 30_000)
})

/** A browser's page load (fetch would send `Sec-Fetch-Mode: cors` whatever it is told). */
function navigateTo(url: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: navigate }, (response) => {
      response.resume()
      resolve({ status: response.statusCode ?? 0, location: response.headers.location })
    }).on('error', reject)
  })
}

function runToExit(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  let text = ''
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output: text })))
}
