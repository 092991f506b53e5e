/**
 * The edge's DPoP cost (RFC 9449), for `npm run bench edge`:
 * (c) requests/s through the edge Worker with DPoP-bound tokens and a fresh proof on every request
 *     (as real clients send), next to the same tokens' claims unbound and sent as Bearer;
 * (d) the cost of the edge's proof check per request (`checkSenderConstraint`: parse, import the
 *     proof's key, verify, claims, `ath`, thumbprint, replay cache) next to one raw
 *     `crypto.subtle.verify` of an ES256 signature, both inside workerd on one core.
 * Proofs are signed before each run, so the load generator's signing is not what is measured.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Agent, createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import { WORKER_BUNDLE_OPTIONS } from '../support/edge-worker'
import { getOrders, loadEdge, type EdgeLoadResult } from './edge-load'
import { printTable } from './report'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const workerdBinary = join(repoRoot, 'node_modules/workerd/bin/workerd')
const SECONDS = Number(process.env.BENCH_EDGE_SECONDS ?? 3)
const CONCURRENCY = Number(process.env.BENCH_EDGE_CONCURRENCY ?? 32)
const ROUNDS = Number(process.env.BENCH_EDGE_ROUNDS ?? 5)
/** Tokens in play, each sent many times (the verified-token cache holds them: the proof is the work). */
const TOKENS = 100
const PATH = '/api/orders'

type ProofKey = Awaited<ReturnType<typeof generateKeyPair>>


const ath = (token: string) => createHash('sha256').update(token).digest('base64url')

async function proofFor(key: ProofKey, jwk: JWK, token: string, htu: string): Promise<string> {
  return await new SignJWT({ jti: crypto.randomUUID(), htm: 'GET', htu, iat: Math.floor(Date.now() / 1000), ath: ath(token) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(key.privateKey)
}

async function signToken(privateKey: CryptoKey, issuer: string, i: number, jkt: string | undefined): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({
    sub: `user-${i}`,
    sid: `session-${i}`,
    aud: ['demo-api'],
    client_id: 'bench',
    scope: 'orders:read profile',
    jti: crypto.randomUUID(),
    ...(jkt ? { cnf: { jkt } } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench-1' })
    .setIssuer(issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(privateKey)
}



const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * (c): the edge Worker on `edgePort` (its JWKS holds the key behind `privateKey`), bearer and DPoP
 * runs alternating per round; each DPoP request carries a proof never sent before.
 */
export async function benchDpopRequests(edgePort: number, privateKey: CryptoKey, issuer: string, workerdCpuMs: () => number): Promise<void> {
  const key = await generateKeyPair('ES256')
  const jwk = await exportJWK(key.publicKey)
  const jkt = await calculateJwkThumbprint(jwk)
  const htu = `http://127.0.0.1:${edgePort}${PATH}`
  const bearerTokens: string[] = []
  const boundTokens: string[] = []
  for (let i = 0; i < TOKENS; i++) {
    bearerTokens.push(await signToken(privateKey, issuer, i, undefined))
    boundTokens.push(await signToken(privateKey, issuer, i, jkt))
  }
  const check = await getOrders(new Agent(), edgePort, { Authorization: `DPoP ${boundTokens[0]}`, DPoP: await proofFor(key, jwk, boundTokens[0]!, htu) })
  if (check !== 200) throw new Error(`edge answered ${check} to a valid DPoP request`)

  const bearer: EdgeLoadResult[] = []
  const dpop: EdgeLoadResult[] = []
  let budget = 20_000
  for (let round = 0; round < ROUNDS; round++) {
    bearer.push(await loadEdge(edgePort, (i) => ({ Authorization: `Bearer ${bearerTokens[i % TOKENS]}` }), { concurrency: CONCURRENCY, seconds: SECONDS, workerdCpuMs }))
    // Enough fresh proofs for this round at the bearer rate, signed just before it (their iat stays in the window).
    budget = Math.min(60_000, Math.ceil(Math.max(budget, bearer.at(-1)!.perSecond * SECONDS * 1.2)))
    const proofs: string[] = []
    for (let i = 0; i < budget; i++) proofs.push(await proofFor(key, jwk, boundTokens[i % TOKENS]!, htu))
    dpop.push(await loadEdge(edgePort, (i) => ({ Authorization: `DPoP ${boundTokens[i % TOKENS]}`, DPoP: proofs[i]! }), { concurrency: CONCURRENCY, seconds: SECONDS, limit: proofs.length, workerdCpuMs }))
  }
  const typical = (runs: EdgeLoadResult[]) => [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)]!
  const ratio = median(dpop.map((run, i) => run.perSecond / bearer[i]!.perSecond))
  const rows = [
    ['Bearer (unbound)', bearer],
    ['DPoP (fresh proof each)', dpop],
  ].map(([name, runs]) => {
    const t = typical(runs as EdgeLoadResult[])
    return [name as string, t.perSecond, t.p50Ms, t.p99Ms, median((runs as EdgeLoadResult[]).map((r) => r.workerdCpuUs)), (runs as EdgeLoadResult[]).reduce((s, r) => s + r.errors, 0)]
  })
  printTable(`(c) requests/s through the edge, ${TOKENS} tokens each reused (verified-token cache hits), ${CONCURRENCY} connections`, ['tokens', 'req/s', 'p50 ms', 'p99 ms', 'workerd CPU µs/req', 'non-200'], rows)
  console.log(`  DPoP ÷ Bearer: ${ratio.toFixed(2)}× (median of ${ROUNDS} rounds, each DPoP run right after its Bearer run)`)
}

/** Times the edge's proof check and one raw ES256 verify inside workerd (the clock stands still there during CPU work, so Node times each batch). */
const PROOF_COST_WORKER = `
import { checkSenderConstraint } from './edge/check-sender-constraint'
import { DpopReplayCache } from './shared/dpop-replay-cache'
let setup
const decode = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
export default {
  async fetch(request) {
    const url = new URL(request.url)
    if (url.pathname === '/setup') {
      const body = await request.json()
      const rawKey = await crypto.subtle.importKey('jwk', body.jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify'])
      const raw = body.proofs.map((proof) => {
        const last = proof.lastIndexOf('.')
        return { data: new TextEncoder().encode(proof.slice(0, last)), signature: decode(proof.slice(last + 1)) }
      })
      setup = { ...body, rawKey, raw, replay: new DpopReplayCache() }
      return new Response('ready')
    }
    const from = Number(url.searchParams.get('from'))
    const n = Number(url.searchParams.get('n'))
    let ok = 0
    if (url.pathname === '/raw') {
      for (let i = from; i < from + n; i++) {
        const { data, signature } = setup.raw[i]
        if (await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, setup.rawKey, signature, data)) ok++
      }
    } else {
      const settings = { proofMaxAgeSeconds: 300, clockToleranceSeconds: 30, replayGuard: setup.replay }
      for (let i = from; i < from + n; i++) {
        const proof = setup.proofs[i]
        const r = await checkSenderConstraint({ presentedAs: 'dpop', token: setup.token, claims: { cnf: { jkt: setup.jkt } }, routeRequiresDpop: false, proof, method: 'GET', url: setup.htu, nowMs: Date.now() }, settings)
        if (r === 'dpop') ok++
      }
    }
    return new Response(String(ok))
  },
}`

/** (d): µs per proof check at the edge next to µs per raw `crypto.subtle.verify`, in its own workerd on core 0. */
export async function benchDpopProofCost(): Promise<void> {
  const n = 2000
  const key = await generateKeyPair('ES256', { extractable: true })
  const jwk = await exportJWK(key.publicKey)
  const jkt = await calculateJwkThumbprint(jwk)
  const htu = 'https://api.example.test/api/orders'
  const token = 'bench.access.token'
  const proofs: string[] = []
  // One batch per round and kind, plus a warm-up batch; each proof is checked once (replay cache).
  for (let i = 0; i < n * (ROUNDS + 1); i++) proofs.push(await proofFor(key, jwk, token, htu))

  const dir = await mkdtemp(join(tmpdir(), 'portcullis-dpop-bench-'))
  const result = await build({ ...WORKER_BUNDLE_OPTIONS, stdin: { contents: PROOF_COST_WORKER, resolveDir: repoRoot, loader: 'ts' }, minify: true })
  await writeFile(join(dir, 'worker.js'), result.outputFiles[0]!.text)
  const port = await new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number }
      server.close(() => resolve(address.port))
    })
  })
  await writeFile(
    join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "dpop", worker = (modules = [(name = "worker.js", esModule = embed "worker.js")], compatibilityDate = "2026-10-01"))],
  sockets = [(name = "dpop", address = "127.0.0.1:${port}", http = (), service = "dpop")],
);
`,
  )
  const child = spawn('taskset', ['-c', '0', workerdBinary, 'serve', join(dir, 'config.capnp'), '--experimental'], { stdio: ['ignore', 'ignore', 'inherit'] })
  const base = `http://127.0.0.1:${port}`
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const ready = await fetch(`${base}/setup`, { method: 'POST', body: JSON.stringify({ proofs, jwk, jkt, htu, token }) })
        if (ready.ok) break
      } catch {
        if (attempt > 100) throw new Error('workerd (dpop bench) did not start')
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const timed = async (path: string, from: number): Promise<number> => {
      const started = performance.now()
      const ok = Number(await (await fetch(`${base}${path}?from=${from}&n=${n}`)).text())
      if (ok !== n) throw new Error(`${path}: ${ok}/${n} passed`)
      return ((performance.now() - started) * 1000) / n
    }
    await timed('/raw', 0)
    await timed('/check', 0)
    const raw: number[] = []
    const check: number[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      raw.push(await timed('/raw', round * n))
      check.push(await timed('/check', round * n))
    }
    const ratios = check.map((c, i) => c / raw[i]!)
    printTable('(d) cost per DPoP proof inside workerd (one core)', ['operation', 'µs each', 'per second'], [
      ['one raw crypto.subtle.verify (ES256)', median(raw), 1e6 / median(raw)],
      ['edge proof check (checkSenderConstraint)', median(check), 1e6 / median(check)],
    ])
    console.log(`  proof check ÷ raw verify: ${median(ratios).toFixed(2)}× (range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} over ${ROUNDS} rounds)`)
  } finally {
    child.kill('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
}
