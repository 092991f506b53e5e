/**
 * The load generator every refresh bench shares, so portcullis, the peer and the physical limit
 * are driven the same way: one keep-alive HTTP client (node:http, cheaper per request than
 * `fetch` on a machine whose cores the service also needs) and one measured cell that adds up
 * latencies and per-process CPU over interleaved windows.
 */
import { request, type Agent } from 'node:http'
import { runForDuration, summarize, type LatencySummary } from './report'

export interface HttpAnswer {
  status: number
  text: string
}

/** POSTs an `application/x-www-form-urlencoded` body on `agent`'s keep-alive connections. */
export function postForm(agent: Agent, url: string, body: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return post(agent, url, 'application/x-www-form-urlencoded', body, headers)
}

/** POSTs `body` as `contentType` on `agent`'s keep-alive connections. */
export function post(agent: Agent, url: string, contentType: string, body: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'Content-Type': contentType,
          'Content-Length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** Cumulative CPU ms of each party (e.g. `{ client, server, postgres }`) at one instant. */
export type CpuReading = Record<string, number>

export interface CellResult {
  latency: LatencySummary
  /** CPU ms per request of each party in the reading. */
  cpuPerRequestMs: Record<string, number>
}

/**
 * One mode at one concurrency: a warm-up, then measured windows (a caller may interleave them
 * with another mode's so both see the same background load) whose latencies and CPU add up.
 * `task(worker)` throws on anything but success, which aborts the cell: errors are never timed.
 */
export class MeasuredCell {
  private readonly latenciesMs: number[] = []
  private elapsedMs = 0
  private readonly usedMs: Record<string, number> = {}

  constructor(
    private readonly concurrency: number,
    private readonly readCpu: () => CpuReading,
    private readonly task: (worker: number) => Promise<void>,
  ) {}

  /** Unmeasured load first: JIT, pool connections, prepared statements, PostgreSQL caches. */
  async warmUp(durationMs: number): Promise<void> {
    await runForDuration(this.concurrency, durationMs, this.task)
  }

  async measure(durationMs: number): Promise<void> {
    const before = this.readCpu()
    const { latenciesMs, elapsedMs } = await runForDuration(this.concurrency, durationMs, this.task)
    const after = this.readCpu()
    this.latenciesMs.push(...latenciesMs)
    this.elapsedMs += elapsedMs
    for (const key of Object.keys(after)) this.usedMs[key] = (this.usedMs[key] ?? 0) + after[key]! - (before[key] ?? Number.NaN)
  }

  result(): CellResult {
    const count = this.latenciesMs.length
    return {
      latency: summarize(this.latenciesMs, this.elapsedMs),
      cpuPerRequestMs: Object.fromEntries(Object.entries(this.usedMs).map(([key, ms]) => [key, ms / count])),
    }
  }
}

/** This process's CPU ms so far (the load generator, or the postgres.js driver it runs). */
export function ownCpuMs(): number {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}
