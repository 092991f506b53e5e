/**
 * Client-credentials tokens/s (RFC 6749 §4.4): portcullis against oidc-provider's grant in the
 * same run, each in its own Node process on the same embedded PostgreSQL, driven by the same
 * keep-alive load generator in alternating windows. Both authenticate the client with
 * client_secret_basic and answer an ES256 `at+jwt`; portcullis also with a DPoP proof per request
 * (a fresh proof each time, as a real client sends, made by the load generator and counted in its
 * CPU). Every measured answer is a 200 with an access token, or the section fails.
 */
import { Agent } from 'node:http'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import type { Sql } from 'postgres'
import { createClient } from '../../central/clients/store'
import { processCpuMs } from './cpu-usage'
import { MeasuredCell, ownCpuMs, postForm, type CellResult } from './load-generator'
import { clientCredentialsOnce } from './oidc-provider-peer'
import { printTable } from './report'
import { withTokenBenchStage } from './token-bench-stage'

const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number)
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000
const WARMUP_MS = 1000
const ROUNDS = 3
const CLIENT_ID = 'bench-batch'
const AUDIENCE = 'https://api.example.test'

interface Row {
  concurrency: number
  portcullis: CellResult
  portcullisDpop: CellResult
  peer: CellResult
}

export async function runClientCredentialsBench(): Promise<void> {
  const registerBenchClient = async (sql: Sql) =>
    (
      await createClient(sql, {
        clientId: CLIENT_ID,
        type: 'confidential',
        tokenEndpointAuthMethod: 'client_secret_basic',
        jwks: null,
        jwksUri: null,
        grantTypes: ['client_credentials'],
        audiences: [AUDIENCE],
        scopes: ['read', 'write'],
        roles: [],
        accessTokenTtlSeconds: null,
        requireDpop: false,
        enabled: true,
        actor: 'bench',
        now: new Date(),
      })
    ).secret
  await withTokenBenchStage({ name: 'cc', prepare: registerBenchClient }, async ({ config, central, peer, postgresCpuMs }, secret) => {
    const centralPid = central.pid
    const peerPid = peer.pid
    const tokenUrl = `${central.url}/oauth/token`
    const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${secret}`).toString('base64')}`
    const dpopKey = await generateKeyPair('ES256')
    const dpopJwk = await exportJWK(dpopKey.publicKey)
    // The proof's htu is the public token URL (ISSUER here, no PUBLIC_URL): what central checks.
    const htu = `${config.ISSUER.replace(/\/$/, '')}/oauth/token`

    console.log(
      `central ${central.url}, oidc-provider ${peer.url}, DATABASE_POOL_MAX=${config.DATABASE_POOL_MAX} for each; ` +
        `${MEASURE_MS / 1000} s per mode and cell in ${ROUNDS} alternating windows after ${WARMUP_MS / 1000} s warm-up`,
    )
    const rows: Row[] = []
    for (const concurrency of CONCURRENCIES) {
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
      const portcullisCpu = () => ({ client: ownCpuMs(), server: processCpuMs(centralPid), postgres: postgresCpuMs() })
      const portcullis = new MeasuredCell(concurrency, portcullisCpu, async () => {
        expectToken(await postForm(agent, tokenUrl, 'grant_type=client_credentials&scope=read', { Authorization: basic }), 'Bearer')
      })
      const portcullisDpop = new MeasuredCell(concurrency, portcullisCpu, async () => {
        const proof = await new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu, iat: Math.floor(Date.now() / 1000) })
          .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpopJwk })
          .sign(dpopKey.privateKey)
        expectToken(await postForm(agent, tokenUrl, 'grant_type=client_credentials&scope=read', { Authorization: basic, DPoP: proof }), 'DPoP')
      })
      const peerCell = new MeasuredCell(
        concurrency,
        () => ({ client: ownCpuMs(), server: processCpuMs(peerPid), postgres: postgresCpuMs() }),
        () => clientCredentialsOnce(peer, agent),
      )
      const cells = [portcullis, portcullisDpop, peerCell]
      for (const cell of cells) await cell.warmUp(WARMUP_MS)
      for (let round = 0; round < ROUNDS; round++) for (const cell of cells) await cell.measure(MEASURE_MS / ROUNDS)
      agent.destroy()
      rows.push({ concurrency, portcullis: portcullis.result(), portcullisDpop: portcullisDpop.result(), peer: peerCell.result() })
    }

    const header = ['concurrency', 'mode', 'tokens/s', 'p50 ms', 'p99 ms', 'server CPU ms/token', 'postgres CPU ms/token', 'vs oidc-provider']
    const table: (string | number)[][] = []
    for (const row of rows) {
      const peerRate = row.peer.latency.perSecond
      for (const [mode, cell] of [['portcullis', row.portcullis], ['portcullis + DPoP', row.portcullisDpop], ['oidc-provider', row.peer]] as const) {
        table.push([
          row.concurrency,
          mode,
          cell.latency.perSecond,
          cell.latency.p50Ms,
          cell.latency.p99Ms,
          cell.cpuPerRequestMs.server!,
          cell.cpuPerRequestMs.postgres!,
          `${(cell.latency.perSecond / peerRate).toFixed(2)}×`,
        ])
      }
    }
    printTable('client-credentials tokens/s (client_secret_basic, ES256 at+jwt; DPoP: a fresh proof per request)', header, table)
    console.log('\nevery measured answer was 200 with an access token of the expected token_type')
  })
}

function expectToken(answer: { status: number; text: string }, tokenType: 'Bearer' | 'DPoP'): void {
  if (answer.status !== 200) throw new Error(`portcullis client_credentials answered ${answer.status}: ${answer.text.slice(0, 300)}`)
  const body = JSON.parse(answer.text) as { access_token?: string; token_type?: string }
  if (typeof body.access_token !== 'string' || body.token_type !== tokenType) throw new Error(`unexpected token response: ${answer.text.slice(0, 300)}`)
}
