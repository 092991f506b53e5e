/**
 * CPU time per process group, read from Linux `/proc`, so a bench can show where the time of a
 * request goes (load generator, service, database) and that the load generator is not the
 * bottleneck. On a machine without `/proc` every figure is NaN and the bench still runs.
 * @see https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html
 */
import { readdirSync, readFileSync } from 'node:fs'

/** USER_HZ: the unit of utime/stime in /proc; 100 on every mainstream Linux build. */
const TICKS_PER_SECOND = 100

interface ProcStat {
  pid: number
  ppid: number
  /** utime + stime, in ms. */
  cpuMs: number
}

function readProcStat(pid: number | string): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 2 (comm) is parenthesised and may contain spaces or ')': parse after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    const ticks = Number(fields[11]) + Number(fields[12])
    return { pid: Number(pid), ppid: Number(fields[1]), cpuMs: (ticks * 1000) / TICKS_PER_SECOND }
  } catch {
    return undefined // gone between readdir and read, or no /proc
  }
}

function allProcesses(): ProcStat[] {
  let names: string[]
  try {
    names = readdirSync('/proc')
  } catch {
    return []
  }
  return names.filter((n) => /^\d+$/.test(n)).flatMap((n) => readProcStat(n) ?? [])
}

/**
 * CPU ms used so far by every descendant of `parentPid` (not the parent itself), skipping the
 * subtrees of `exclude`: e.g. the bench's PostgreSQL postmaster and its backends, without the
 * service process the bench also started.
 */
export function descendantsCpuMs(parentPid: number, exclude: number[] = []): number {
  const processes = allProcesses()
  if (processes.length === 0) return Number.NaN
  const children = new Map<number, ProcStat[]>()
  for (const p of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p])
  let total = 0
  const stack = [...(children.get(parentPid) ?? [])]
  while (stack.length) {
    const p = stack.pop()!
    if (exclude.includes(p.pid)) continue
    total += p.cpuMs
    stack.push(...(children.get(p.pid) ?? []))
  }
  return total
}

/** CPU ms used so far by one process (all its threads). */
export function processCpuMs(pid: number): number {
  return readProcStat(pid)?.cpuMs ?? Number.NaN
}

/** Busy and total CPU ms of the whole machine (all cores), from the `cpu` line of /proc/stat. */
export function machineCpuMs(): { busyMs: number; totalMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
    const values = line.trim().split(/\s+/).slice(1).map(Number)
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0)
    const idle = values[3]! + values[4]! // idle + iowait
    return { busyMs: ((total - idle) * 1000) / TICKS_PER_SECOND, totalMs: (total * 1000) / TICKS_PER_SECOND }
  } catch {
    return { busyMs: Number.NaN, totalMs: Number.NaN }
  }
}
