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
  // Runtime modules workerd provides (the Durable Object base class), as wrangler leaves them.
  external: ['cloudflare:*'],
  write: false,
} satisfies BuildOptions

/** The edge Worker bundled the way wrangler does (ESM, workerd conditions), once per test process. */
export function bundleEdgeWorker(): Promise<string> {
  bundle ??= build({ ...WORKER_BUNDLE_OPTIONS, entryPoints: [workerEntry] }).then((result) => result.outputFiles[0]!.text)
  return bundle
}

export interface RunningEdge {
  /** Sends a request to the Worker (through workerd's HTTP server); with several isolates, to the first. */
  fetch(path: string, init?: RequestInit): Promise<Response>
  /** Sends a request to isolate `index` (each is its own Worker, so its own module state). */
  fetchVia(index: number, path: string, init?: RequestInit): Promise<Response>
  /** Base URL of workerd's HTTP server, for raw `node:http` requests. */
  url: URL
  /** Every line the Worker logged (console.log/warn/error). */
  logs: string[]
  /** Parsed `edge request` log lines. */
  requestLogs(): Record<string, unknown>[]
  /** The revocation hub namespace (only with a hub), callable from Node like an isolate would. */
  hubNamespace(): Promise<DurableObjectNamespaceLike>
  dispose(): Promise<void>
}

/** What Node code needs of a Durable Object namespace handed out by miniflare. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown
  get(id: never): { fetch(url: string, init?: RequestInit): Promise<Response> }
}

export interface EdgeOptions {
  /**
   * The per-location revocation hub: `true` binds REVOCATION_HUB to the Worker's own
   * `RevocationHub` class (as wrangler.toml does); a module binds it to a class of that module
   * instead (a broken hub, say). Default: no binding, so isolates poll central directly.
   */
  hub?: boolean | { script: string; className: string }
  /** Isolates sharing one hub: the same Worker loaded this many times. Default 1. */
  isolates?: number
}

const HUB_HOST = 'revocation-hub-host'

/** Runs the real edge Worker in workerd (miniflare) with the given vars. */
export async function startEdge(vars: Record<string, string>, options: EdgeOptions = {}): Promise<RunningEdge> {
  const script = await bundleEdgeWorker()
  const logs: string[] = []
  const isolates = Math.max(1, options.isolates ?? 1)
  const names = Array.from({ length: isolates }, (_, i) => `edge-${i}`)
  const hub = options.hub
  const hubBinding =
    hub === undefined || hub === false
      ? undefined
      : hub === true
        ? { className: 'RevocationHub', scriptName: names[0]! }
        : { className: hub.className, scriptName: HUB_HOST }
  const workers = names.map((name) => ({
    name,
    modules: true,
    script,
    compatibilityDate: '2026-10-01',
    bindings: vars,
    ...(hubBinding ? { durableObjects: { REVOCATION_HUB: hubBinding } } : {}),
  }))
  const hubHost = typeof hub === 'object' ? [{ name: HUB_HOST, modules: true, script: hub.script, compatibilityDate: '2026-10-01', durableObjects: { HUB: hub.className } }] : []
  const mf = new Miniflare({
    ...convertV4MiniflareOptions({ workers: [...workers, ...hubHost] }),
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
    fetchVia: async (index, path, init) => {
      const worker = await mf.getWorker(names[index])
      return worker.fetch(new URL(path, 'http://edge.test').toString(), init as never) as unknown as Promise<Response>
    },
    requestLogs: () =>
      logs.flatMap((line) => {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          return parsed.msg === 'edge request' ? [parsed] : []
        } catch {
          return []
        }
      }),
    hubNamespace: async () => {
      if (!hubBinding) throw new Error('this edge has no revocation hub')
      return (await mf.getDurableObjectNamespace('REVOCATION_HUB', names[0])) as unknown as DurableObjectNamespaceLike
    },
    dispose: () => mf.dispose(),
  }
}
