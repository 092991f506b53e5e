import { spawn, execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database'

const root = new URL('../..', import.meta.url).pathname
const ADMIN_TOKEN = 'dist-test-admin-token-0123456789'

/** The package a bare import specifier names (`@scope/name/sub` → `@scope/name`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

/** `npm run build`'s output, run as operators run it: plain Node, no TypeScript loader. */
describe('the production build of central', () => {
  let db: TestDatabase
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, ['central/build.mjs'], { cwd: root })
    db = await createTestDatabase({ migrate: false })
  }, 120_000)
  afterAll(() => db?.drop())

  it('imports only Node built-ins and production dependencies', async () => {
    const pkg = JSON.parse(await readFile(`${root}package.json`, 'utf8')) as { dependencies: Record<string, string> }
    const imported = new Set<string>()
    for (const file of ['main.js', 'cli.js']) {
      const code = await readFile(`${root}central/dist/${file}`, 'utf8')
      for (const match of code.matchAll(/(?:^|\n)\s*(?:import|export)[^'"\n]*?from\s*["']([^'"]+)["']|import\(["']([^'"]+)["']\)/g)) {
        const specifier = match[1] ?? match[2]!
        if (!specifier.startsWith('.')) imported.add(specifier)
      }
    }
    expect(imported.size).toBeGreaterThan(0)
    const builtins = new Set(builtinModules)
    const outside = [...imported].filter((s) => !s.startsWith('node:') && !builtins.has(s) && !(packageName(s) in pkg.dependencies))
    expect(outside).toEqual([])
  })

  it('migrates, serves /healthz, and drains to exit 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['central/dist/main.js'], {
      cwd: root,
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, PORT: '0', HOST: '127.0.0.1', ADMIN_TOKEN, NODE_ENV: 'development' },
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const match = /listening on (http:\/\/\S+)/.exec(output)
        if (match) resolve(match[1]!)
      })
      void exited.then((code) => reject(new Error(`central exited (${code}) before listening:\n${output}`)))
    })
    expect(output).toMatch(/applied migrations: 0001_initial\.sql/)
    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })
    const jwks = await fetch(`${url}/.well-known/jwks.json`)
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0)
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  }, 60_000)

  it('runs the CLI with plain Node', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['central/dist/cli.js', '--help'], { cwd: root })
    expect(stdout).toMatch(/portcullis/)
    expect(stdout).toMatch(/sessions/)
  })
})
