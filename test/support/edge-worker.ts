import { fileURLToPath } from 'node:url'
import { build, type BuildOptions } from 'esbuild'
import { Miniflare, convertV4MiniflareOptions } from 'miniflare'

const workerEntry = fileURLToPath(new URL('../../edge/worker.ts', import.meta.url))
let bundle: Promise<string> | undefined

/** How wrangler bundles a Worker: ESM, workerd's export conditions. Shared with the bench. */
export const WORKER_BUNDLE_OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['module', 'main'],
  target: 'es2023',
  write: false,
} satisfies BuildOptions

/** The edge Worker bundled the way wrangler does (ESM, workerd conditions), once per test process. */
export function bundleEdgeWorker(): Promise<string> {
  bundle ??= build({ ...WORKER_BUNDLE_OPTIONS, entryPoints: [workerEntry] }).then((result) => result.outputFiles[0]!.text)
  return bundle
}

export interface RunningEdge {
  /** Sends a request to the Worker (through workerd's HTTP server). */
  fetch(path: string, init?: RequestInit): Promise<Response>
  /** Base URL of workerd's HTTP server, for raw `node:http` requests. */
  url: URL
  /** Every line the Worker logged (console.log/warn/error). */
  logs: string[]
  /** Parsed `edge request` log lines. */
  requestLogs(): Record<string, unknown>[]
  dispose(): Promise<void>
}

/** Runs the real edge Worker in workerd (miniflare) with the given vars. */
export async function startEdge(vars: Record<string, string>): Promise<RunningEdge> {
  const script = await bundleEdgeWorker()
  const logs: string[] = []
  const mf = new Miniflare({
    ...convertV4MiniflareOptions({
      modules: true,
      script,
      compatibilityDate: '2026-10-01',
      bindings: vars,
    }),
    logRequests: false,
    enableDevRegistry: false,
    handleStructuredLogs: (log) => {
      logs.push(log.message)
    },
  })
  const url = await mf.ready
  return {
    url,
    logs,
    fetch: (path, init) => mf.dispatchFetch(new URL(path, 'http://edge.test').toString(), init as never) as unknown as Promise<Response>,
    requestLogs: () =>
      logs.flatMap((line) => {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          return parsed.msg === 'edge request' ? [parsed] : []
        } catch {
          return []
        }
      }),
    dispose: () => mf.dispose(),
  }
}
