import { execFile } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll } from 'vitest'
import { TEST_ADMIN_TOKEN, useCentralTestApp, type CentralTestApp, type CentralTestFile } from '../../support/central-app'

/** The `portcullis` bin as npm installs it. */
export const PORTCULLIS_BIN = fileURLToPath(new URL('../../../central/cli/portcullis.mjs', import.meta.url))

/** The CLI's environment: only what it is given, plus PATH and HOME. */
export function cliEnvironment(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real `portcullis` bin as a child process (same Node as the test run). */
export function runPortcullis(args: string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [PORTCULLIS_BIN, ...args],
      { env: cliEnvironment(env), timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
    child.stdin?.end(stdin ?? '')
  })
}

/** Central listening on a free 127.0.0.1 port, like `npm start` but on the test database. */
export async function listen(t: CentralTestApp): Promise<{ url: string; close(): Promise<void> }> {
  const server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

export interface CliCentral extends CentralTestFile {
  /** What the CLI needs to reach central: its URL and the admin token. */
  env: Record<string, string>
}

/** For a test file: central on its own database and a real port for the whole file, torn down after. */
export function useCliCentral(): CliCentral {
  const central = useCentralTestApp() as CliCentral
  let server: Awaited<ReturnType<typeof listen>> | undefined
  beforeAll(async () => {
    server = await listen(central.t)
    central.env = { PORTCULLIS_URL: server.url, PORTCULLIS_ADMIN_TOKEN: TEST_ADMIN_TOKEN }
  })
  afterAll(async () => {
    await server?.close()
  })
  return central
}
