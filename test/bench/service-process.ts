import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface ServiceProcess {
  /** What the service printed after "listening on". */
  url: string
  pid: number
  /** SIGTERM (the services drain and exit), SIGKILL after 10 s. */
  stop(): Promise<void>
}

/**
 * Runs a TypeScript entry in its own Node process (through tsx), so the measured service has its
 * own event loop and its CPU can be told apart from the load generator's; resolves once it prints
 * "listening on <url>".
 */
export async function startServiceProcess(options: {
  /** Label in error messages and in front of the service's stderr. */
  name: string
  /** The entry file and its arguments, relative to the repository root. */
  args: string[]
  env: Record<string, string>
  /** Extra Node flags (e.g. --cpu-prof). */
  nodeFlags?: string[]
}): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', 'tsx', ...options.args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.name} did not start within 30 s:\n${output}`)), 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8')
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${options.name} exited with ${code} before listening:\n${output}`))
    })
  })
  // Keep draining its output (a full pipe would block the service); show only its stderr.
  child.stdout!.removeAllListeners('data').resume()
  child.stderr!.removeAllListeners('data').on('data', (chunk: Buffer) => process.stderr.write(`[${options.name}] ${chunk}`))
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        child.kill('SIGTERM')
      }),
  }
}

/**
 * `central/main.ts` in its own Node process, as `npm start` runs it. BENCH_CPU_PROF=<dir> writes a
 * V8 CPU profile of the service (open it in Chrome DevTools).
 */
export function startCentralProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  return startServiceProcess({ name: 'central', args: ['central/main.ts'], env, nodeFlags: profile })
}
