/**
 * `npm start`: the whole local stack on one machine, nothing to install.
 *   central  :8787  (PORT; embedded PostgreSQL under .portcullis/)
 *   edge     :8080  (LOCAL_EDGE_PORT; the Worker in workerd via `wrangler dev` and wrangler.toml)
 *   demo API :8788  (LOCAL_DEMO_ORIGIN_PORT; behind the edge's sample route /api/)
 * Secrets are generated once into .portcullis/local-secrets.json.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { z } from 'zod'
import { loadConfig } from '../config'
import { startCentral } from '../main'
import { findUserByUsername, createUser } from '../users/store'
import { hashPassword } from '../users/passwords'
import { systemClock } from '../clock'
import { ADMIN_ROLE } from '../../shared/access-token-claims'
import { startDemoOrigin } from './demo-origin'
import { loadOrCreateLocalSecrets } from './local-secrets'

const DEMO_USER = 'alice'

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback)
const LocalStackSchema = z.object({
  PORT: port(8787),
  LOCAL_EDGE_PORT: port(8080),
  LOCAL_DEMO_ORIGIN_PORT: port(8788),
  /** Port of wrangler's DevTools inspector (its default 9229 clashes with a second stack). */
  LOCAL_EDGE_INSPECTOR_PORT: port(9229),
})
const ports = LocalStackSchema.parse(process.env)
const CENTRAL_PORT = ports.PORT
const EDGE_PORT = ports.LOCAL_EDGE_PORT
const DEMO_ORIGIN_PORT = ports.LOCAL_DEMO_ORIGIN_PORT
const centralUrl = `http://127.0.0.1:${CENTRAL_PORT}`

// The data folder as central's config reads it (config.ts is the only reader of single variables).
const dataDir = loadConfig(process.env).PORTCULLIS_DATA_DIR
const secrets = await loadOrCreateLocalSecrets(dataDir)
const config = loadConfig({
  ISSUER: centralUrl,
  ADMIN_TOKEN: secrets.adminToken,
  EDGE_FEED_TOKEN: secrets.edgeFeedToken,
  METRICS_TOKEN: secrets.metricsToken,
  // Plain http on localhost: browsers drop Secure cookies there.
  COOKIE_SECURE: 'false',
  // The edge forwards /auth/* from its own origin; allow it for the cookie flow's Origin check.
  ALLOWED_ORIGINS: `http://127.0.0.1:${EDGE_PORT},http://localhost:${EDGE_PORT}`,
  TRUST_PROXY: 'true',
  ...process.env,
  PORT: String(CENTRAL_PORT),
})

const central = await startCentral(config)
const origin = await startDemoOrigin(DEMO_ORIGIN_PORT)
await ensureDemoUser()
const edge = startEdge()

process.once('SIGINT', () => void shutdown())
process.once('SIGTERM', () => void shutdown())

async function ensureDemoUser(): Promise<void> {
  if (await findUserByUsername(central.sql, DEMO_USER)) return
  await createUser(central.sql, {
    username: DEMO_USER,
    passwordHash: await hashPassword(secrets.demoPassword),
    audiences: ['demo-api'],
    scopes: ['orders:read', 'profile'],
    roles: [ADMIN_ROLE],
    actor: 'system:local-stack',
    now: systemClock(),
  })
}

function startEdge(): ChildProcess {
  // wrangler.toml's [vars] describe this same layout on the default ports; the ones that name
  // a port are passed again so another PORT / LOCAL_*_PORT keeps the stack consistent.
  const demoOrigin = `http://127.0.0.1:${DEMO_ORIGIN_PORT}`
  const vars = {
    ISSUER: config.ISSUER,
    JWKS_URL: `${centralUrl}/.well-known/jwks.json`,
    CENTRAL_URL: centralUrl,
    ROUTES: JSON.stringify([
      { prefix: '/api/', origin: demoOrigin, audience: 'demo-api' },
      { prefix: '/api/public/', origin: demoOrigin, public: true },
    ]),
    EDGE_FEED_TOKEN: secrets.edgeFeedToken,
  }
  const child = spawn(
    'wrangler',
    [
      'dev',
      ...['--port', String(EDGE_PORT), '--ip', '127.0.0.1', '--inspector-port', String(ports.LOCAL_EDGE_INSPECTOR_PORT)],
      '--show-interactive-dev-session=false',
      ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  )
  let announced = false
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      // wrangler looks for updates on the internet; offline that is noise, not a fault.
      if (/error/i.test(line) && !line.includes('ENOTFOUND')) console.error(`[edge] ${line}`)
      if (!announced && line.includes('Ready on')) {
        announced = true
        printWelcome()
      } else if (line.startsWith('{')) console.log(`[edge] ${line}`)
    }
  }
  child.stdout?.on('data', onOutput)
  child.stderr?.on('data', onOutput)
  child.once('exit', (code) => {
    if (!stopping) {
      console.error(`[edge] wrangler dev exited (${code}); stopping the stack`)
      void shutdown(1)
    }
  })
  return child
}

function printWelcome(): void {
  const edgeUrl = `http://127.0.0.1:${EDGE_PORT}`
  console.log(`
portcullis local stack is up
  edge (use this)   ${edgeUrl}
  central           ${central.url}        (admin API, console at ${central.url}/console/)
  demo API          ${origin.url}         (behind the edge at ${edgeUrl}/api/)

  demo user         ${DEMO_USER} / ${secrets.demoPassword}   (audience demo-api, console admin)
  ADMIN_TOKEN       ${secrets.adminToken}
  (secrets live in ${dataDir}/local-secrets.json)

Try it:
  TOKEN=$(curl -s ${edgeUrl}/auth/login -H 'Content-Type: application/json' \\
    -d '{"username":"${DEMO_USER}","password":"${secrets.demoPassword}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -s ${edgeUrl}/api/orders -H "Authorization: Bearer $TOKEN"
  curl -s -i ${edgeUrl}/api/orders            # 401 without a token
Create another user:
  curl -s ${central.url}/admin/users -H 'Authorization: Bearer ${secrets.adminToken}' -H 'Content-Type: application/json' \\
    -d '{"username":"bob","password":"a-long-password","audiences":["demo-api"],"scopes":[],"roles":[]}'
Ctrl-C stops everything.`)
}

let stopping = false
async function shutdown(code = 0): Promise<void> {
  if (stopping) return
  stopping = true
  edge.kill('SIGTERM')
  await origin.stop()
  await central.stop()
  process.exit(code)
}
