/** Shared bench plumbing: latency summaries and plain-text tables. */

export interface LatencySummary {
  count: number
  perSecond: number
  p50Ms: number
  p99Ms: number
}

/** Summarises per-request latencies (ms) collected over `elapsedMs` of wall time. */
export function summarize(latenciesMs: number[], elapsedMs: number): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b)
  return {
    count: sorted.length,
    perSecond: (sorted.length / elapsedMs) * 1000,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  }
}

export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)
  return sorted[Math.max(0, index)]!
}

/** Runs `task` from `concurrency` workers until `total` calls are done; returns latencies. */
export async function runConcurrently(
  concurrency: number,
  total: number,
  task: (index: number) => Promise<void>,
): Promise<{ latenciesMs: number[]; elapsedMs: number }> {
  const latenciesMs: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const index = next++
        const t0 = performance.now()
        await task(index)
        latenciesMs.push(performance.now() - t0)
      }
    }),
  )
  return { latenciesMs, elapsedMs: performance.now() - started }
}

/**
 * Runs `concurrency` workers, each calling `task(worker)` back to back until `durationMs` has
 * passed; returns every call's latency. Each worker owns its own state (e.g. one refresh chain),
 * so calls of one worker are strictly sequential — the shape of a real client.
 */
export async function runForDuration(
  concurrency: number,
  durationMs: number,
  task: (worker: number) => Promise<void>,
): Promise<{ latenciesMs: number[]; elapsedMs: number }> {
  const latenciesMs: number[] = []
  const started = performance.now()
  const deadline = started + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const t0 = performance.now()
        await task(worker)
        latenciesMs.push(performance.now() - t0)
      }
    }),
  )
  return { latenciesMs, elapsedMs: performance.now() - started }
}

export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)))]
  const widths = header.map((_, i) => Math.max(...cells.map((row) => String(row[i] ?? '').length)))
  const line = (row: (string | number)[]) => row.map((cell, i) => String(cell).padStart(widths[i]!)).join('  ')
  console.log(`\n${title}`)
  console.log(line(cells[0]!))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of cells.slice(1)) console.log(line(row))
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  if (Math.abs(value) >= 100) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}
