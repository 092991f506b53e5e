import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_PORTS, REPO_ROOT, startLocalStackProcess, type LocalStackProcess } from './local-stack-process'

/**
 * README's runnable examples, run against the stack `npm start` brings up.
 *
 * A block is runnable when its fence's info string is `sh local-stack` (or `bash local-stack`):
 *
 *     ```sh local-stack
 *     curl -sf http://127.0.0.1:8080/api/public/hello
 *     ```
 *
 * Each such block runs on its own, in README order, in `bash` with `set -eu` (a failing command
 * or an unset variable fails the block; use `curl -f` where a status matters), from the project
 * folder, as a person pastes it after `npm start`. The test's stack differs from a newcomer's in
 * two ways only, and the block is adapted for both:
 *   - ports: `127.0.0.1:<default>` / `localhost:<default>` (8787 central, 8080 edge, 8788 demo API,
 *     8790 Demo IdP) are rewritten to the test stack's ports, and PORTCULLIS_URL names its central
 *     (where the CLI's default would be 8787);
 *   - the data folder: `.portcullis/` (also `./.portcullis/`) is rewritten to the test stack's
 *     throwaway data folder, and PORTCULLIS_DATA_DIR names it (where the CLI looks for the admin token).
 * A block that needs a token reads it from `.portcullis/local-secrets.json`, as a person would.
 */
const MARKER = /^(sh|bash)\s+local-stack\b/

interface ReadmeBlock {
  /** Line of the opening fence in README.md (1-based). */
  line: number
  code: string
}

function readRunnableBlocks(markdown: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!)
    if (!fence) continue
    const [, indent, marks, info] = fence
    // CommonMark: the closing fence is the same character, at least as many, and nothing else.
    const closing = new RegExp(`^\\s*\\${marks![0]}{${marks!.length},}\\s*$`)
    const end = lines.findIndex((l, j) => j > i && closing.test(l))
    const close = end === -1 ? lines.length : end
    if (MARKER.test(info!.trim())) {
      blocks.push({ line: i + 1, code: lines.slice(i + 1, close).map((l) => (l.startsWith(indent!) ? l.slice(indent!.length) : l)).join('\n') })
    }
    i = close
  }
  return blocks
}

const blocks = readRunnableBlocks(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'))

/** The block as it runs against `stack`: its ports and data folder instead of the defaults. */
function adaptToStack(code: string, stack: LocalStackProcess): string {
  let adapted = code
  for (const [variable, defaultPort] of Object.entries(DEFAULT_PORTS)) {
    const port = stack.ports[variable as keyof typeof DEFAULT_PORTS]
    adapted = adapted.replace(new RegExp(`(127\\.0\\.0\\.1|localhost):${defaultPort}(?!\\d)`, 'g'), `$1:${port}`)
  }
  return adapted.replace(/(?<![\w/.-])(\.\/)?\.portcullis\//g, `${stack.dataDir}/`)
}

function runBlock(code: string, stack: LocalStackProcess): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', `set -eu\n${adaptToStack(code, stack)}`],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ADMIN_TOKEN: '', PORTCULLIS_ADMIN_TOKEN: '', PORTCULLIS_URL: stack.centralUrl, PORTCULLIS_DATA_DIR: stack.dataDir },
        timeout: 120_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    )
  })
}

let stack: LocalStackProcess

beforeAll(async () => {
  stack = await startLocalStackProcess()
}, 120_000)

afterAll(async () => {
  await stack?.stop()
}, 60_000)

describe('README examples on the stack `npm start` brings up', () => {
  it('has runnable blocks (fences marked `sh local-stack`)', () => {
    expect(blocks.length).toBeGreaterThan(0)
  })

  it.each(blocks.map((block) => [block.line, block] as const))('the block at README.md:%i exits 0', async (_line, block) => {
    const result = await runBlock(block.code, stack)
    expect(result.code, `README.md:${block.line} exited ${result.code}\n--- block as run:\n${adaptToStack(block.code, stack)}\n--- stdout:\n${result.stdout}\n--- stderr:\n${result.stderr}`).toBe(0)
  }, 150_000)
})

describe('adapting a README block to the test stack', () => {
  const fake = {
    ports: { PORT: 1001, LOCAL_EDGE_PORT: 1002, LOCAL_DEMO_ORIGIN_PORT: 1003, LOCAL_IDP_PORT: 1004, LOCAL_EDGE_INSPECTOR_PORT: 1005 },
    dataDir: '/tmp/stack/.portcullis',
  } as LocalStackProcess

  it('rewrites default ports on loopback hosts and the data folder, nothing else', () => {
    expect(adaptToStack('EDGE=http://127.0.0.1:8080\ncurl localhost:8787/x http://localhost:87870 https://api.example.com:8080/', fake)).toBe(
      'EDGE=http://127.0.0.1:1002\ncurl localhost:1001/x http://localhost:87870 https://api.example.com:8080/',
    )
    expect(adaptToStack(`node -p 'require("./.portcullis/local-secrets.json").demoPassword' < .portcullis/a my.portcullis/b`, fake)).toBe(
      `node -p 'require("/tmp/stack/.portcullis/local-secrets.json").demoPassword' < /tmp/stack/.portcullis/a my.portcullis/b`,
    )
  })

  it('finds only fences marked local-stack, with their README line', () => {
    const markdown = ['# t', '```sh', 'echo no', '```', '', '```sh local-stack', 'echo yes', '```', '````bash local-stack', '```', 'echo nested', '````'].join('\n')
    expect(readRunnableBlocks(markdown)).toEqual([
      { line: 6, code: 'echo yes' },
      { line: 9, code: '```\necho nested' },
    ])
  })
})
