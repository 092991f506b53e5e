import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { request as httpRequest } from 'node:http'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { insertTestUser } from '../support/users'
import { buildCentralApp, TEST_ADMIN_TOKEN, type CentralTestApp } from '../support/central-app'
import { createTestDatabase, type TestDatabase } from '../support/database'

const PASSWORD = 'bad-input-password-Zq81'
let db: TestDatabase
let central: CentralTestApp

beforeAll(async () => {
  db = await createTestDatabase()
  central = await buildCentralApp(db.sql, { env: { MAX_BODY_BYTES: '4096' } })
  await insertTestUser(db.sql, { username: 'victim', password: PASSWORD, audiences: ['api'], scopes: ['read'] })
})
afterAll(() => db.drop())

const call = (path: string, init: RequestInit = {}) => central.app.request(path, init)
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
})
const adminJson = (method: string, body: string, contentType = 'application/json'): RequestInit => ({
  method,
  headers: { 'Content-Type': contentType, Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  body,
})
const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
})

/** Every rejection: the given 4xx, a JSON RFC 6749 §5.2-style body, and nothing internal. */
async function expectRejected(res: Response, status: number, error?: string) {
  const text = await res.text()
  expect({ status: res.status, text }).toMatchObject({ status })
  expect(res.headers.get('Content-Type')).toMatch(/^application\/json/)
  const body = JSON.parse(text) as { error: string; error_description?: string }
  expect(body.error).toMatch(/^[a-z_]+$/)
  if (error) expect(body.error).toBe(error)
  expect(text).not.toMatch(/\bat .+\.(ts|js):\d+|node_modules|Error:|PostgresError|syntax error at/)
}

describe('malformed JSON', () => {
  it.each([
    ['POST /auth/login', '/auth/login'],
    ['POST /admin/users', '/admin/users'],
  ])('%s with a truncated JSON body answers 400 invalid_request', async (_, path) => {
    const init = path.startsWith('/admin') ? adminJson('POST', '{"username": "a", "pass') : json('{"username": "a", "pass')
    await expectRejected(await call(path, init), 400, 'invalid_request')
  })

  it('PATCH /admin/users/:username with a JSON array answers 400', async () => {
    await expectRejected(await call('/admin/users/victim', adminJson('PATCH', '[1,2,3]')), 400, 'invalid_request')
  })

  it('POST /auth/login with wrong field types answers 400', async () => {
    await expectRejected(await call('/auth/login', json({ username: 42, password: ['x'] })), 400, 'invalid_request')
  })

  it('POST /auth/login with an empty body answers 400', async () => {
    await expectRejected(await call('/auth/login', json('')), 400, 'invalid_request')
  })
})

describe('wrong content type', () => {
  it('POST /auth/login with a form body answers 415', async () => {
    await expectRejected(await call('/auth/login', form({ username: 'victim', password: PASSWORD })), 415)
  })

  it('POST /oauth/token with a JSON body answers 415', async () => {
    await expectRejected(await call('/oauth/token', json({ grant_type: 'refresh_token', refresh_token: 'x' })), 415)
  })

  it('POST /admin/users with a text/plain body answers 415', async () => {
    const res = await call('/admin/users', adminJson('POST', JSON.stringify({ username: 'plain', password: 'password-1' }), 'text/plain'))
    await expectRejected(res, 415)
    expect(await db.sql`select 1 from users where username = 'plain'`).toHaveLength(0)
  })
})

describe('oversized bodies', () => {
  const big = 'x'.repeat(8192)

  it.each([
    ['/auth/login', () => json({ username: 'victim', password: big })],
    ['/oauth/token', () => form({ grant_type: 'refresh_token', refresh_token: big })],
    ['/admin/users', () => adminJson('POST', JSON.stringify({ username: 'big', password: big }))],
  ])('POST %s beyond MAX_BODY_BYTES answers 413', async (path, init) => {
    await expectRejected(await call(path, init()), 413)
  })

  it('a chunked body with no Content-Length is cut off at MAX_BODY_BYTES with 413 over real HTTP', async () => {
    const server = serve({ fetch: central.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/auth/login', headers: { 'Content-Type': 'application/json' } })
        req.on('response', (res) => {
          let text = ''
          res.on('data', (chunk) => (text += chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        })
        req.on('error', reject)
        req.write('{"username":"victim","password":"')
        for (let i = 0; i < 16; i++) req.write('y'.repeat(1024))
        req.end('"}')
      })
      expect(answer.status).toBe(413)
      expect(JSON.parse(answer.text)).toMatchObject({ error: 'invalid_request' })
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('unknown routes', () => {
  it.each(['/nope', '/admin', '/auth/login/extra', '/.well-known/unknown', '/%2e%2e/%2e%2e/etc/passwd'])('GET %s answers 404 JSON', async (path) => {
    await expectRejected(await call(path), 404, 'not_found')
  })

  it('a known path with an unsupported method answers a 4xx JSON body', async () => {
    const res = await call('/healthz', { method: 'DELETE' })
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.status).toBeLessThan(500)
    await expectRejected(res, res.status)
  })
})

describe('SQL-looking and hostile strings', () => {
  const hostile = ["' OR '1'='1", "victim'; drop table users; --", 'victim\u0000', '\u202evictim', '%', '_', 'a'.repeat(300)]

  it.each(hostile)('login with username %j answers 4xx, never 500', async (username) => {
    const res = await call('/auth/login', json({ username, password: "' OR 1=1 --" }))
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.status).toBeLessThan(500)
    await expectRejected(res, res.status)
  })

  it('leaves the users table intact', async () => {
    expect(await db.sql`select 1 from users where username = 'victim'`).toHaveLength(1)
  })

  it.each(hostile)('GET /admin/users/:username with %j answers 4xx', async (username) => {
    const res = await call(`/admin/users/${encodeURIComponent(username)}`, { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.status).toBeLessThan(500)
    await expectRejected(res, res.status)
  })

  it.each(hostile)('GET /admin/users?prefix=%j answers 200 or 400, never 500', async (prefix) => {
    const res = await call(`/admin/users?prefix=${encodeURIComponent(prefix)}`, { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    expect([200, 400]).toContain(res.status)
    if (res.status === 200) expect(((await res.json()) as { users: unknown[] }).users).toEqual([])
  })

  it.each(["' OR 1=1 --", 'garbage', 'x'.repeat(43), 'A'.repeat(1024), '\u0000'])('POST /oauth/token with refresh_token %j answers 400', async (token) => {
    await expectRejected(await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: token })), 400)
  })

  it('POST /oauth/token with an unknown grant type answers unsupported_grant_type', async () => {
    await expectRejected(await call('/oauth/token', form({ grant_type: 'password', username: 'victim', password: PASSWORD })), 400, 'unsupported_grant_type')
  })

  it.each(['garbage', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', "' OR 1=1 --"])(
    'GET /auth/sessions with Bearer %j answers 401 invalid_token',
    async (token) => {
      await expectRejected(await call('/auth/sessions', { headers: { Authorization: `Bearer ${token}` } }), 401, 'invalid_token')
    },
  )

  it.each(['not-a-uuid', "1' OR '1'='1", '00000000-0000-0000-0000-00000000000g'])(
    'DELETE /admin/sessions/%s answers 4xx',
    async (id) => {
      const res = await call(`/admin/sessions/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
      await expectRejected(res, res.status)
    },
  )
})

describe('client addresses', () => {
  it('logs in and refreshes from an IPv6 address with a zone index, storing the address without it', async () => {
    // PostgreSQL's inet refuses `%eth0` (22P02); a peer on a link-local address must still log in.
    const behindProxy = await buildCentralApp(db.sql, { env: { TRUST_PROXY: 'true' } })
    await insertTestUser(db.sql, { username: 'link-local', password: PASSWORD })
    const from = { 'X-Forwarded-For': 'fe80::1%eth0' }
    const login = await behindProxy.app.request('/auth/login', { ...json({ username: 'link-local', password: PASSWORD }), headers: { 'Content-Type': 'application/json', ...from } })
    expect(login.status).toBe(200)
    const { refresh_token } = (await login.json()) as { refresh_token: string }
    const refreshed = await behindProxy.app.request('/oauth/token', {
      ...form({ grant_type: 'refresh_token', refresh_token }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...from },
    })
    expect(refreshed.status).toBe(200)
    const [session] = await db.sql<{ ip: string; rotated_ip: string | null }[]>`
      select host(s.ip) as ip, host(s.rotated_ip) as rotated_ip
      from sessions s join users u on u.id = s.user_id where u.username = 'link-local'`
    expect(session).toEqual({ ip: 'fe80::1', rotated_ip: 'fe80::1' })
  })
})

/** Everything central writes to the console or stdout/stderr until `restore()`. */
function captureLogs(): { lines: string[]; restore(): void } {
  const lines: string[] = []
  const capture = (...args: unknown[]) => {
    lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '))
  }
  const spies = [
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => vi.spyOn(console, level).mockImplementation(capture)),
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (capture(String(chunk)), true)),
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (capture(String(chunk)), true)),
  ]
  return { lines, restore: () => spies.forEach((spy) => spy.mockRestore()) }
}

describe('logs', () => {
  it('never print the password of a failed or a successful login, nor of a user created', async () => {
    const { lines, restore } = captureLogs()
    try {
      const wrong = `${PASSWORD}-wrong`
      expect((await call('/auth/login', json({ username: 'victim', password: wrong }))).status).toBe(401)
      expect((await call('/auth/login', json({ username: 'nobody', password: wrong }))).status).toBe(401)
      expect((await call('/auth/login', json({ username: 'victim', password: PASSWORD }))).status).toBe(200)
      expect((await call('/auth/login', json(`{"username":"victim","password":"${wrong}`))).status).toBe(400)
      const secret = 'created-user-secret-Pw9'
      expect((await call('/admin/users', adminJson('POST', JSON.stringify({ username: 'logged', password: secret })))).status).toBe(201)
      expect((await call('/admin/users', adminJson('POST', JSON.stringify({ username: 'x', password: 'short' })))).status).toBe(400)
      const all = lines.join('\n')
      for (const value of [PASSWORD, wrong, secret, 'short', '$argon2id']) expect(all).not.toContain(value)
    } finally {
      restore()
    }
  })

  it('log an unexpected failure without the password, tokens or cookies of the request that met it', async () => {
    const session = (await (await call('/auth/login', json({ username: 'victim', password: PASSWORD }))).json()) as { access_token: string; refresh_token: string }
    // A failure central does not expect (not an outage, not bad input): writes to the session tables fail.
    await db.sql.unsafe(`create function fail_write() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`)
    await db.sql.unsafe(`create trigger fail_sessions before insert on sessions for each row execute function fail_write()`)
    await db.sql.unsafe(`create trigger fail_tokens before update on sessions for each row execute function fail_write()`)
    const { lines, restore } = captureLogs()
    try {
      const cookie = { Cookie: `portcullis_rt=${session.refresh_token}; portcullis_at=${session.access_token}` }
      const login = await call('/auth/login', { ...json({ username: 'victim', password: PASSWORD }), headers: { 'Content-Type': 'application/json', ...cookie } })
      expect(login.status).toBe(500)
      const refreshed = await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: session.refresh_token }))
      expect(refreshed.status).toBe(500)
      for (const response of [login, refreshed]) {
        const body = await response.text()
        for (const secret of [PASSWORD, session.refresh_token, session.access_token, 'injected failure']) expect(body).not.toContain(secret)
      }
    } finally {
      restore()
      await db.sql.unsafe('drop function fail_write() cascade')
    }
    const unhandled = lines.filter((line) => line.includes('unhandled error'))
    expect(unhandled).toHaveLength(2) // both failures were logged…
    const all = lines.join('\n')
    for (const secret of [PASSWORD, session.refresh_token, session.access_token, session.refresh_token.slice(0, 20)]) expect(all).not.toContain(secret) // …without a secret
  })
})
