import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findFreePort } from '../../central/db/embedded-postgres'

/** The project folder, where `npm start` runs (and `npx portcullis` finds the project's bin). */
export const REPO_ROOT = new URL('../..', import.meta.url).pathname

/** The ports `npm start` listens on by default, by the variable that moves each. */
export const DEFAULT_PORTS = {
  PORT: 8787,
  LOCAL_EDGE_PORT: 8080,
  LOCAL_DEMO_ORIGIN_PORT: 8788,
  LOCAL_IDP_PORT: 8790,
  LOCAL_EDGE_INSPECTOR_PORT: 9229,
} as const

export type StackPorts = { [K in keyof typeof DEFAULT_PORTS]: number }

export interface LocalStackProcess {
  child: ChildProcess
  /** Everything it printed so far (stdout and stderr). */
  output: () => string
  ports: StackPorts
  /** A throwaway folder holding the data folder; `dataDir` is `<workDir>/.portcullis`. */
  workDir: string
  dataDir: string
  edgeUrl: string
  centralUrl: string
  /** The variables it was started with (ports and data folder). */
  env: Record<string, string>
  /** SIGTERM (when still running), then the folder is removed. */
  stop(): Promise<void>
}

export async function findFreeStackPorts(): Promise<StackPorts> {
  const [PORT, LOCAL_EDGE_PORT, LOCAL_DEMO_ORIGIN_PORT, LOCAL_IDP_PORT, LOCAL_EDGE_INSPECTOR_PORT] = await Promise.all(
    Object.keys(DEFAULT_PORTS).map(() => findFreePort()),
  )
  return { PORT: PORT!, LOCAL_EDGE_PORT: LOCAL_EDGE_PORT!, LOCAL_DEMO_ORIGIN_PORT: LOCAL_DEMO_ORIGIN_PORT!, LOCAL_IDP_PORT: LOCAL_IDP_PORT!, LOCAL_EDGE_INSPECTOR_PORT: LOCAL_EDGE_INSPECTOR_PORT! }
}

/** `tsx central/dev/local-stack.ts` (what `npm start` runs) with `env` on top of this process's. */
export function spawnLocalStack(env: Record<string, string>): ChildProcess {
  return spawn('tsx', ['central/dev/local-stack.ts'], { cwd: REPO_ROOT, env: { ...process.env, ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
}

/**
 * `npm start` as a newcomer runs it — central on its embedded database, the edge in workerd via
 * wrangler dev, the demo API and the demo identity provider — on free ports and a throwaway data
 * folder; resolves once it printed its welcome.
 */
export async function startLocalStackProcess(extraEnv: Record<string, string> = {}): Promise<LocalStackProcess> {
  const workDir = await mkdtemp(join(tmpdir(), 'portcullis-local-stack-'))
  // As root the embedded server runs as `postgres`, which must enter the folder (mkdtemp makes it 700).
  await chmod(workDir, 0o755)
  const dataDir = join(workDir, '.portcullis')
  const ports = await findFreeStackPorts()
  const env = { PORTCULLIS_DATA_DIR: dataDir, ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])) }
  const child = spawnLocalStack({ ...env, ...extraEnv })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    await rm(workDir, { recursive: true, force: true })
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`local stack did not come up:\n${output}`)), 90_000)
      child.stdout!.on('data', () => {
        if (output.includes('Ctrl-C stops everything.')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`local stack exited (${code}):\n${output}`))
      })
    })
  } catch (error) {
    await stop()
    throw error
  }
  return {
    child,
    output: () => output,
    ports,
    workDir,
    dataDir,
    edgeUrl: `http://127.0.0.1:${ports.LOCAL_EDGE_PORT}`,
    centralUrl: `http://127.0.0.1:${ports.PORT}`,
    env,
    stop,
  }
}
