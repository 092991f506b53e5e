/**
 * `npm start`: the whole local stack on one machine, nothing to install.
 *   central  :8787  (embedded PostgreSQL under .portcullis/)
 *   edge     :8080  (the Worker in workerd via `wrangler dev`, configured by wrangler.toml)
 *   demo API :8788  (behind the edge's sample route /api/)
 * Secrets are generated once into .portcullis/local-secrets.json.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { loadConfig } from '../config'
import { startCentral } from '../main'
import { findUserByUsername, createUser } from '../users/store'
import { hashPassword } from '../users/passwords'
import { systemClock } from '../clock'
import { ADMIN_ROLE } from '../../shared/access-token-claims'
import { startDemoOrigin } from './demo-origin'
import { loadOrCreateLocalSecrets } from './local-secrets'

const CENTRAL_PORT = 8787
const EDGE_PORT = 8080
const DEMO_ORIGIN_PORT = 8788
const DEMO_USER = 'alice'

// The data folder as central's config reads it (config.ts is the only reader of single variables).
const dataDir = loadConfig(process.env).PORTCULLIS_DATA_DIR
const secrets = await loadOrCreateLocalSecrets(dataDir)
const config = loadConfig({
  PORT: String(CENTRAL_PORT),
  ISSUER: `http://127.0.0.1:${CENTRAL_PORT}`,
  ADMIN_TOKEN: secrets.adminToken,
  EDGE_FEED_TOKEN: secrets.edgeFeedToken,
  METRICS_TOKEN: secrets.metricsToken,
  // Plain http on localhost: browsers drop Secure cookies there.
  COOKIE_SECURE: 'false',
  // The edge forwards /auth/* from its own origin; allow it for the cookie flow's Origin check.
  ALLOWED_ORIGINS: `http://127.0.0.1:${EDGE_PORT},http://localhost:${EDGE_PORT}`,
  TRUST_PROXY: 'true',
  ...process.env,
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
  const child = spawn(
    'wrangler',
    ['dev', '--port', String(EDGE_PORT), '--ip', '127.0.0.1', '--var', `EDGE_FEED_TOKEN:${secrets.edgeFeedToken}`, '--show-interactive-dev-session=false'],
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
