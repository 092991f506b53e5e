/**
 * Edge cost in CPU instructions per request (`npm run bench edge-instructions`): the same workerd
 * and Workers as `npm run bench edge` (b), run under valgrind's callgrind, which counts every
 * instruction workerd executes. The count does not depend on what else the machine is doing, where
 * req/s on a shared 2-core machine moves by 20–40 % between identical runs: two copies of one Worker
 * in a run agree within 1–2 %, separate runs of the same code within about 5 % (JIT and GC timing),
 * so it shows what each part of the edge costs when Workers of one run are compared. It is not time: kernel work (loopback TCP) is not
 * counted, and an instruction of ES256 arithmetic takes less time than one of JavaScript, so a
 * signature check weighs more here than in req/s. Needs `valgrind` (Debian's package); skipped
 * without it. Sizes via BENCH_EDGE_INSTRUCTIONS_REQUESTS (default 1500 per target and token mode).
 */
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { Agent } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allocatePorts, benchSigningKey, requestTargets, signTokens, startWorkerd, type Ports } from './edge'
import { getOrders } from './edge-load'
import { printTable } from './report'

const REQUESTS = Number(process.env.BENCH_EDGE_INSTRUCTIONS_REQUESTS ?? 1500)
const WARM_UP_REQUESTS = 300
/** Few connections: under valgrind workerd runs ~50× slower, and the count does not depend on load. */
const CONNECTIONS = 4

export async function runEdgeInstructionsBench(): Promise<void> {
  if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.log('skipped: valgrind is not installed (apt-get install -y valgrind)')
    return
  }
  console.log(`edge instructions: workerd under callgrind, ${REQUESTS} requests per target after ${WARM_UP_REQUESTS} to warm up, ${CONNECTIONS} connections`)
  const { privateKey, jwksJson } = await benchSigningKey()
  const tokens = await signTokens(privateKey, WARM_UP_REQUESTS + 4 * REQUESTS)
  const ports = await allocatePorts()
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-edge-instructions-'))
  const profile = join(dir, 'callgrind.out')
  const workerd = await startWorkerd(dir, ports, jwksJson, ['valgrind', '--tool=callgrind', `--callgrind-out-file=${profile}`, '--dump-instr=no'])
  try {
    await countPerTarget(workerd, profile, ports, tokens)
  } finally {
    workerd.kill('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
}

async function countPerTarget(workerd: ChildProcess, profile: string, ports: Ports, tokens: string[]): Promise<void> {
  let dumps = 0
  /** Instructions since the previous dump: callgrind resets its counters at every dump. */
  const instructionsSinceLastDump = async (): Promise<number> => {
    execFileSync('callgrind_control', ['--dump', String(workerd.pid)], { stdio: 'ignore' })
    const file = `${profile}.${++dumps}`
    // callgrind acts on the request when workerd next runs; a request to the origin wakes it.
    for (let attempt = 0; !existsSync(file); attempt++) {
      if (attempt > 300) throw new Error('callgrind did not write its dump')
      await fetch(`http://127.0.0.1:${ports.origin}/`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await new Promise((resolve) => setTimeout(resolve, 500)) // written in one go, but let it finish
    const totals = /^(?:summary|totals): (\d+)/m.exec(readFileSync(file, 'utf8'))
    if (!totals) throw new Error(`no totals in ${file}`)
    return Number(totals[1])
  }
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const send = async (port: number, token: (i: number) => string, count: number): Promise<void> => {
    let next = 0
    let failures = 0
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < count) if ((await getOrders(agent, port, { Authorization: `Bearer ${token(next++)}` })) !== 200) failures++
      }),
    )
    if (failures > 0) throw new Error(`${failures} of ${count} requests to port ${port} did not answer 200`)
  }

  const { gateways, floors } = requestTargets(ports)
  let unusedToken = WARM_UP_REQUESTS
  const rows: (string | number)[][] = []
  for (const mode of ['reused', 'unique'] as const) {
    const perRequest = new Map<string, number>()
    for (const [name, port] of [...gateways, floors[mode]]) {
      await send(port, (i) => tokens[i % 100]!, WARM_UP_REQUESTS)
      await instructionsSinceLastDump()
      // Reused: 100 tokens in turn (all cached after the warm-up). Unique: tokens never sent before.
      const first = unusedToken
      if (mode === 'unique') unusedToken += REQUESTS
      await send(port, mode === 'reused' ? (i) => tokens[i % 100]! : (i) => tokens[first + i]!, REQUESTS)
      perRequest.set(name, (await instructionsSinceLastDump()) / REQUESTS)
    }
    const minimal = perRequest.get('minimal proxy')!
    const floor = perRequest.get(floors[mode][0])!
    for (const [name, count] of perRequest) {
      rows.push([mode === 'reused' ? 'reused ×100' : 'unique', name, count / 1000, count - minimal > 0 ? (count - minimal) / 1000 : 0, minimal / count, floor / count])
    }
  }
  agent.destroy()
  printTable('instructions per request in workerd (origin Worker included)', ['tokens', 'worker', 'k instructions', 'k over minimal', 'minimal / worker', 'floor / worker'], rows)
  console.log('minimal / worker: the req/s ratio if time followed instructions (it does not for ES256, see the module comment)')
}
