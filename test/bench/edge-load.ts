import { Agent, request as httpRequest } from 'node:http'
import { percentile } from './report'

/** What a timed run of requests through workerd measured. */
export interface EdgeLoadResult {
  perSecond: number
  p50Ms: number
  p99Ms: number
  /** Answers other than 200 (and failed requests). */
  errors: number
  /** workerd's CPU per request, in µs. */
  workerdCpuUs: number
}

/** `GET /api/orders?limit=10` on 127.0.0.1:`port` with `headers`; resolves the status (0 when the request failed). */
export function getOrders(agent: Agent, port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/api/orders?limit=10', agent, headers }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    request.on('error', () => resolve(0))
    request.end()
  })
}

/**
 * `concurrency` keep-alive workers send `getOrders` back to back for `seconds`, or until `limit`
 * requests went out; request `i` carries `headersFor(i)`.
 */
export async function loadEdge(
  port: number,
  headersFor: (i: number) => Record<string, string>,
  options: { concurrency: number; seconds: number; limit?: number; workerdCpuMs: () => number },
): Promise<EdgeLoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency })
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  const latencies: number[] = []
  let errors = 0
  let next = 0
  const deadline = performance.now() + options.seconds * 1000
  const cpuStartedMs = options.workerdCpuMs()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline && next < limit) {
        const headers = headersFor(next++)
        const t0 = performance.now()
        const status = await getOrders(agent, port, headers)
        latencies.push(performance.now() - t0)
        if (status !== 200) errors++
      }
    }),
  )
  const elapsed = performance.now() - started
  const cpuMs = options.workerdCpuMs() - cpuStartedMs
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return {
    perSecond: (latencies.length / elapsed) * 1000,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    errors,
    workerdCpuUs: (cpuMs * 1000) / latencies.length,
  }
}
