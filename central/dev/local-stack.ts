/**
 * `npm start`: the whole local stack on one machine, nothing to install.
 *   central   :8787  (PORT; embedded PostgreSQL under .portcullis/)
 *   edge      :8080  (LOCAL_EDGE_PORT; the Worker in workerd via `wrangler dev` and wrangler.toml)
 *   demo API  :8788  (LOCAL_DEMO_ORIGIN_PORT; behind the edge's routes /api/ and /app/)
 *   Demo IdP  :8790  (LOCAL_IDP_PORT; an OpenID provider people sign in with at /app/)
 * Secrets are generated once into .portcullis/local-secrets.json.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { z } from 'zod'
import { ConfigError, loadConfig, type Config } from '../config'
import { startCentral, type RunningCentral } from '../main'
import { findUserByUsername, createUser } from '../users/store'
import { hashPassword } from '../users/passwords'
import { systemClock } from '../clock'
import { ADMIN_ROLE } from '../../shared/access-token-claims'
import { findBusyPorts, findLiveDataFolderServer, type PortClaim } from './busy-resources'
import { DEMO_ACCOUNTS, DEMO_PROVIDER_ID, DEMO_PROVIDER_LABEL, startDemoSignIn, type DemoSignIn } from './demo-sign-in'
import { startDemoOrigin } from './demo-origin'
import { LOCAL_SECRETS_FILE, loadOrCreateLocalSecrets, type LocalSecrets } from './local-secrets'

const DEMO_USER = 'alice'
const LOOPBACK = '127.0.0.1'
/** The CLI's default PORTCULLIS_URL (central/cli/run-cli.ts). */
const CLI_DEFAULT_URL = 'http://127.0.0.1:8787'

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback)
const LocalStackSchema = z.object({
  PORT: port(8787),
  LOCAL_EDGE_PORT: port(8080),
  LOCAL_DEMO_ORIGIN_PORT: port(8788),
  /** The demo identity provider, at http://localhost:<port>: another site than the edge on 127.0.0.1. */
  LOCAL_IDP_PORT: port(8790),
  /** Port of wrangler's DevTools inspector (its default 9229 clashes with a second stack). */
  LOCAL_EDGE_INSPECTOR_PORT: port(9229),
})

/** Something the stack cannot start with; its message is the whole story (no stack trace). */
class StartProblem extends Error {}

/** What has started, stopped in reverse order by `shutdown`. */
const running: { name: string; stop(): Promise<void> | void }[] = []
let stopping = false

async function main(): Promise<void> {
  const ports = LocalStackSchema.parse(process.env)
  const edgeUrl = `http://${LOOPBACK}:${ports.LOCAL_EDGE_PORT}`
  const centralUrl = `http://${LOOPBACK}:${ports.PORT}`
  // The data folder as central's config reads it (config.ts is the only reader of single variables).
  const baseConfig = loadConfig(process.env)
  const dataDir = baseConfig.PORTCULLIS_DATA_DIR

  await assertNothingInTheWay(ports, dataDir, baseConfig.DATABASE_URL === undefined)

  const secrets = await loadOrCreateLocalSecrets(dataDir)
  const demoSignIn = await startDemoSignIn({
    publicUrl: edgeUrl,
    clientSecret: secrets.demoIdpClientSecret,
    host: LOOPBACK,
    port: ports.LOCAL_IDP_PORT,
    // `localhost` vs the edge's 127.0.0.1: different sites, so the browser treats the provider's
    // redirect back as cross-site, as it will with a real provider (SameSite cookies matter).
    issuerHost: 'localhost',
  })
  running.push({ name: 'Demo IdP', stop: () => demoSignIn.close() })

  const config = loadConfig({
    ISSUER: centralUrl,
    ADMIN_TOKEN: secrets.adminToken,
    EDGE_FEED_TOKEN: secrets.edgeFeedToken,
    METRICS_TOKEN: secrets.metricsToken,
    // Plain http on localhost: browsers drop Secure cookies there.
    COOKIE_SECURE: 'false',
    // The edge forwards /auth/* from its own origin; allow it for the cookie flow's Origin check.
    ALLOWED_ORIGINS: `${edgeUrl},http://localhost:${ports.LOCAL_EDGE_PORT}`,
    TRUST_PROXY: 'true',
    // Browsers reach central's /auth/* through the edge: redirect URIs and metadata name the edge.
    PUBLIC_URL: edgeUrl,
    IDENTITY_PROVIDERS: demoSignIn.identityProviders,
    // A variable set but empty (`ADMIN_TOKEN= npm start`) keeps the stack's value, not "unset".
    ...Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== '')),
    PORT: String(ports.PORT),
  })

  const central = await startCentral(config)
  running.push({ name: 'central', stop: () => central.stop() })
  const origin = await startDemoOrigin(ports.LOCAL_DEMO_ORIGIN_PORT)
  running.push({ name: 'demo API', stop: () => origin.stop() })
  await ensureDemoUser(central, secrets)

  const welcome = () =>
    printWelcome({ edgeUrl, central, originUrl: origin.url, demoSignIn, config, secrets, dataDir, centralPort: ports.PORT })
  const edge = startEdge({ ports, config, centralUrl, originUrl: origin.url, onReady: welcome })
  running.push({ name: 'edge', stop: () => void edge.kill('SIGTERM') })

  process.once('SIGINT', () => void shutdown())
  process.once('SIGTERM', () => void shutdown())
}

/**
 * Every port the stack will listen on, and the embedded database's folder, checked before
 * anything starts: a second `npm start` names what is taken and exits, instead of failing
 * half-way through with a bare rejection from a child process.
 */
async function assertNothingInTheWay(ports: z.infer<typeof LocalStackSchema>, dataDir: string, embedded: boolean): Promise<void> {
  const claim = (part: string, variable: keyof typeof ports): PortClaim & { variable: string } => ({
    owner: `${part} (${variable})`,
    variable,
    port: ports[variable],
    host: LOOPBACK,
  })
  const claims = [
    claim('central', 'PORT'),
    claim('edge', 'LOCAL_EDGE_PORT'),
    claim('demo API', 'LOCAL_DEMO_ORIGIN_PORT'),
    claim('Demo IdP', 'LOCAL_IDP_PORT'),
    claim("edge's inspector", 'LOCAL_EDGE_INSPECTOR_PORT'),
  ]
  const problems: string[] = []
  const elsewhere: string[] = []
  const sameTwice = claims.filter((claim, i) => claims.findIndex((other) => other.port === claim.port) !== i)
  for (const claim of sameTwice) problems.push(`port ${claim.port} is given to two parts of the stack (${claim.owner} and another)`)
  for (const busy of await findBusyPorts(claims.filter((claim) => !sameTwice.includes(claim)))) {
    elsewhere.push(`${busy.variable}=${busy.port + 1000}`)
    problems.push(
      busy.code === 'EADDRINUSE'
        ? `port ${busy.port} for ${busy.owner} is already in use`
        : `port ${busy.port} for ${busy.owner} cannot be listened on (${busy.code})`,
    )
  }
  if (embedded) {
    const pid = await findLiveDataFolderServer(dataDir)
    if (pid !== undefined) {
      problems.push(`the data folder ${dataDir} is in use by a running PostgreSQL (pid ${pid}, ${join(dataDir, 'postgres', 'postmaster.pid')})`)
      elsewhere.push(`PORTCULLIS_DATA_DIR=${dataDir.replace(/\/+$/, '')}-2`)
    }
  }
  if (problems.length === 0) return
  throw new StartProblem(
    `cannot start the local stack:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
      'Is another `npm start` running? Stop it (Ctrl-C there), or start this one elsewhere, e.g.\n' +
      `  ${elsewhere.join(' ')} npm start`,
  )
}

async function ensureDemoUser(central: RunningCentral, secrets: LocalSecrets): Promise<void> {
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

function startEdge(input: {
  ports: z.infer<typeof LocalStackSchema>
  config: Config
  centralUrl: string
  originUrl: string
  onReady: () => void
}): ChildProcess {
  const { ports, config, centralUrl, originUrl } = input
  // wrangler.toml's [vars] describe this same layout on the default ports; the ones that name
  // a port are passed again so another PORT / LOCAL_*_PORT keeps the stack consistent.
  const vars = {
    ISSUER: config.ISSUER,
    JWKS_URL: `${centralUrl}/.well-known/jwks.json`,
    CENTRAL_URL: centralUrl,
    ROUTES: JSON.stringify([
      { prefix: '/api/', origin: originUrl, audience: 'demo-api' },
      { prefix: '/app/', origin: originUrl, audience: 'demo-api', browser: true },
      { prefix: '/api/public/', origin: originUrl, public: true },
    ]),
    EDGE_FEED_TOKEN: config.EDGE_FEED_TOKEN ?? '',
  }
  const child = spawn(
    'wrangler',
    [
      'dev',
      ...['--port', String(ports.LOCAL_EDGE_PORT), '--ip', LOOPBACK, '--inspector-port', String(ports.LOCAL_EDGE_INSPECTOR_PORT)],
      '--show-interactive-dev-session=false',
      ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  )
  let announced = false
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      if (!announced && line.includes('Ready on')) {
        announced = true
        input.onReady()
        continue
      }
      // Each line once: problems on stderr, the Worker's structured lines on stdout, wrangler's
      // chatter not at all. wrangler looks for updates on the internet; offline that is noise.
      if (/error/i.test(line) && !line.includes('ENOTFOUND')) console.error(`[edge] ${line}`)
      else if (line.startsWith('{')) console.log(`[edge] ${line}`)
    }
  }
  child.stdout?.on('data', onOutput)
  child.stderr?.on('data', onOutput)
  child.once('error', (error) => {
    console.error(`[edge] could not run wrangler: ${error.message}`)
    void shutdown(1)
  })
  child.once('exit', (code) => {
    if (!stopping) {
      console.error(`[edge] wrangler dev exited (${code}); stopping the stack`)
      void shutdown(1)
    }
  })
  return child
}

function printWelcome(input: {
  edgeUrl: string
  central: RunningCentral
  originUrl: string
  demoSignIn: DemoSignIn
  config: Config
  secrets: LocalSecrets
  dataDir: string
  centralPort: number
}): void {
  const { edgeUrl, central, config, secrets, dataDir } = input
  const secretsFile = join(dataDir, LOCAL_SECRETS_FILE)
  const adminToken = config.ADMIN_TOKEN ?? ''
  const metricsToken = config.METRICS_TOKEN ?? ''
  const adminFromEnv = adminToken !== secrets.adminToken
  const demoIdp = config.IDENTITY_PROVIDERS.some((p) => p.id === DEMO_PROVIDER_ID && p.issuer === input.demoSignIn.provider.issuer)
  // The CLI finds the token in the data folder's secrets when PORTCULLIS_ADMIN_TOKEN is unset.
  const cliEnv = [
    central.url !== CLI_DEFAULT_URL ? `PORTCULLIS_URL=${central.url}` : '',
    adminFromEnv ? 'PORTCULLIS_ADMIN_TOKEN="$ADMIN_TOKEN"' : dataDir !== '.portcullis' ? `PORTCULLIS_DATA_DIR=${dataDir}` : '',
  ].filter(Boolean)
  const cli = [...cliEnv, 'npx portcullis'].join(' ')
  const accounts = DEMO_ACCOUNTS.map((a) => a.login).join(', ')
  console.log(`
portcullis local stack is up
  edge (use this)   ${edgeUrl}
  demo app          ${edgeUrl}/app/   (a browser route: sign in, then see who the app thinks you are)
  central           ${central.url}    (admin API, console at ${central.url}/console/, metrics at ${central.url}/metrics)
  demo API          ${input.originUrl}    (behind the edge at ${edgeUrl}/api/ and ${edgeUrl}/app/)
${demoIdp ? `  ${DEMO_PROVIDER_LABEL.padEnd(17)} ${input.demoSignIn.provider.issuer}   (an OpenID provider; accounts ${accounts}, any password)\n` : ''}
  demo user         ${DEMO_USER} / ${secrets.demoPassword}   (password sign-in; audience demo-api, console admin)
  ADMIN_TOKEN       ${adminToken}   (${adminFromEnv ? 'from $ADMIN_TOKEN' : `from ${secretsFile}`})
  METRICS_TOKEN     ${metricsToken}
  (generated secrets live in ${secretsFile})

In a browser:
  open ${edgeUrl}/app/${demoIdp ? ` → Sign in with ${DEMO_PROVIDER_LABEL} → log in as alice (any password)` : ` → sign in as ${DEMO_USER}`}
Try it:
  TOKEN=$(curl -s ${edgeUrl}/auth/login -H 'Content-Type: application/json' \\
    -d '{"username":"${DEMO_USER}","password":"${secrets.demoPassword}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -s ${edgeUrl}/api/orders -H "Authorization: Bearer $TOKEN"
  curl -s -i ${edgeUrl}/api/orders            # 401 without a token
The CLI, from this folder (${adminFromEnv ? 'it needs the token you set' : `it reads the admin token from ${secretsFile}`}):
  ${cli} users show ${DEMO_USER}
  ${cli} sessions list ${DEMO_USER}
Create another user:
  curl -s ${central.url}/admin/users -H 'Authorization: Bearer ${adminToken}' -H 'Content-Type: application/json' \\
    -d '{"username":"bob","password":"a-long-password","audiences":["demo-api"],"scopes":[],"roles":[]}'
Metrics (Prometheus text format; scrape with \`authorization: { credentials: <METRICS_TOKEN> }\`):
  curl -s ${central.url}/metrics -H 'Authorization: Bearer ${metricsToken}'
Ctrl-C stops everything.`)
}

async function shutdown(code = 0): Promise<void> {
  if (stopping) return
  stopping = true
  for (const part of running.reverse()) {
    try {
      await part.stop()
    } catch (error) {
      console.error(`stopping ${part.name}: ${describe(error)}`)
      code ||= 1
    }
  }
  process.exit(code)
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message
  return error === undefined ? 'failed without saying why' : String(error)
}

main().catch(async (error: unknown) => {
  if (error instanceof StartProblem || error instanceof ConfigError) console.error(error.message)
  else if ((error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') {
    const { port } = error as NodeJS.ErrnoException & { port?: number }
    console.error(`cannot start the local stack: port ${port ?? '(unknown)'} was taken while starting; is another \`npm start\` running?`)
  } else console.error(`cannot start the local stack: ${describe(error)}`)
  await shutdown(error instanceof ConfigError ? 2 : 1)
})
