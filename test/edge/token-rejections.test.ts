import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { accessTokenClaims, createSigningKey, signAccessToken, signRawToken, base64url, type TestSigningKey } from '../support/edge-keys'
import { startEdgeStack, type EdgeStack } from '../support/edge-stack'
import { rawRequest } from '../support/raw-request'

let stack: EdgeStack
let attacker: TestSigningKey
const sentTokens: string[] = []

beforeAll(async () => {
  stack = await startEdgeStack()
  attacker = await createSigningKey('key-1')
})
afterAll(() => stack.close())
beforeEach(() => {
  stack.origin.requests.length = 0
})

const header = (overrides: Record<string, unknown> = {}) => ({ alg: 'ES256', typ: 'at+jwt', kid: 'key-1', ...overrides })

/** The machine-readable reason the edge logged for its answer on `path` (a path used by one test only). */
async function loggedTokenReason(path: string): Promise<unknown> {
  // Logs arrive from workerd's stdout asynchronously.
  await expect.poll(() => stack.edge.requestLogs().some((line) => line.path === path)).toBe(true)
  return stack.edge.requestLogs().find((line) => line.path === path)?.tokenReason
}

/** Sends `token` as a Bearer credential to a protected route. */
async function callWith(token: string, path = '/api/me', init: RequestInit = {}): Promise<Response> {
  sentTokens.push(token)
  return stack.edge.fetch(path, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } })
}

/** RFC 6750 §3: status, `error` code in body and challenge, a description naming the rule, nothing forwarded, token not echoed. */
async function expectRejected(response: Response, expected: { status: number; error: string; description?: RegExp; token?: string }) {
  const text = await response.text()
  expect(response.status).toBe(expected.status)
  const body = JSON.parse(text) as { error: string; error_description?: string }
  expect(body.error).toBe(expected.error)
  const challenge = response.headers.get('WWW-Authenticate') ?? ''
  expect(challenge).toMatch(/^Bearer realm="portcullis"/)
  expect(challenge).toContain(`error="${expected.error}"`)
  if (expected.description) {
    expect(body.error_description).toMatch(expected.description)
    expect(challenge).toMatch(expected.description)
  }
  if (expected.token) {
    expect(text).not.toContain(expected.token)
    expect(challenge).not.toContain(expected.token)
  }
  expect(stack.origin.requests).toHaveLength(0)
}

describe('requests without a usable token', () => {
  it('answers 401 with a bare challenge (no error code) when no token is presented', async () => {
    const response = await stack.edge.fetch('/api/me')
    expect(response.status).toBe(401)
    expect(response.headers.get('WWW-Authenticate')).toBe('Bearer realm="portcullis"')
    expect(await response.json()).toMatchObject({ error: 'invalid_token' })
    expect(stack.origin.requests).toHaveLength(0)
  })

  it('rejects a garbage token', async () => {
    await expectRejected(await callWith('garbage'), { status: 401, error: 'invalid_token', description: /not a compact JWS/ })
  })

  it('rejects a token whose header is not JSON', async () => {
    const token = `${base64url('{not json')}.${base64url('{}')}.${base64url('sig')}`
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /header is not valid JSON/ })
  })

  it('rejects an Authorization header that is not a single Bearer or DPoP token', async () => {
    const response = await stack.edge.fetch('/api/me', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } })
    await expectRejected(response, { status: 400, error: 'invalid_request', description: /not a single Bearer or DPoP token/ })
  })

  it('rejects two Authorization headers instead of picking one', async () => {
    const token = await signAccessToken(stack.key)
    sentTokens.push(token)
    const { status, body } = await rawRequest(stack.edge.url, '/api/me', { Authorization: [`Bearer ${token}`, `Bearer ${token}`] } as never)
    expect(status).toBe(400)
    expect(JSON.parse(body)).toMatchObject({ error: 'invalid_request', error_description: 'more than one Authorization header was sent' })
    expect(stack.origin.requests).toHaveLength(0)
  })

  it('rejects a Bearer header and an access-token cookie sent together', async () => {
    const token = await signAccessToken(stack.key)
    const response = await callWith(token, '/api/me', { headers: { Cookie: `portcullis_at=${token}` } })
    await expectRejected(response, { status: 400, error: 'invalid_request', description: /both the Authorization header and a cookie/, token })
  })

  it('rejects two access-token cookies', async () => {
    const token = await signAccessToken(stack.key)
    sentTokens.push(token)
    const response = await stack.edge.fetch('/api/me', { headers: { Cookie: `portcullis_at=${token}; portcullis_at=${token}` } })
    await expectRejected(response, { status: 400, error: 'invalid_request', description: /more than one access-token cookie/, token })
  })

  it('rejects a token in the query string, even alongside a valid header', async () => {
    const token = await signAccessToken(stack.key)
    const response = await callWith(token, `/api/me?access_token=${token}`)
    await expectRejected(response, { status: 400, error: 'invalid_request', description: /query string/, token })
  })

  // `acc%65ss_token` is `access_token` to every query parser, the origin's included.
  it.each(['acc%65ss_token', '%61ccess_token', 'access%5Ftoken', 'acc%65ss%5ftoken'])(
    'rejects a token in the query string under a percent-encoded name (?%s=…)',
    async (name) => {
      const token = await signAccessToken(stack.key)
      const response = await callWith(token, `/api/me?x=1&${name}=${token}`)
      await expectRejected(response, { status: 400, error: 'invalid_request', description: /query string/, token })
    },
  )

  // ASP.NET Core's query collection ignores case; PHP drops leading spaces, cuts the
  // name at a NUL and reads ` `, `.` and an unclosed `[` as `_`; PHP, Rack and qs (Express) file
  // `access_token[]` and `access_token[0]` under `access_token`.
  it.each([
    'ACCESS_TOKEN',
    'Access_Token',
    'access.token',
    'access+token',
    'access%20token',
    'access[token',
    '+access_token',
    '%20Access.Token',
    'access_token%00x',
    'access_token[]',
    'access_token[0]',
    'ACCESS%2ETOKEN%5B%5D',
  ])('rejects a token in the query string under a name an origin reads as access_token (?%s=…)', async (name) => {
    const token = await signAccessToken(stack.key)
    const response = await callWith(token, `/api/me?x=1&${name}=${token}`)
    await expectRejected(response, { status: 400, error: 'invalid_request', description: /query string/, token })
  })

  // Rack 2 skips leading brackets and ends the name at `]`; qs (Express 4) reads a
  // leading `[name]` group as the name; Rack 2, older Django and Go < 1.17 also split at `;`.
  it.each(['[access_token]', '%5Baccess_token%5D', 'access_token]', ']access_token', '[ACCESS_TOKEN][0]', 'q=1;access_token'])(
    'rejects a token in the query string under a bracketed or ;-separated name (?%s=…)',
    async (name) => {
      const token = await signAccessToken(stack.key)
      const response = await callWith(token, `/api/me?x=1&${name}=${token}`)
      await expectRejected(response, { status: 400, error: 'invalid_request', description: /query string/, token })
    },
  )

  it('forwards a query whose names only resemble access_token', async () => {
    const token = await signAccessToken(stack.key)
    const query =
      '?access=1&token=2&access_tokens=3&my_access_token=4&access[token]=5&Access_Token_Hint=6&sort=access_time;access_tokens=7&q=1%3Baccess_token=8&[access_token_hint]=9'
    const response = await callWith(token, `/api/me${query}`)
    expect(response.status).toBe(200)
    expect(stack.origin.requests.map((request) => request.url)).toEqual([`/api/me${query}`])
  })

  it('rejects an oversized token before parsing it', async () => {
    const token = await signAccessToken(stack.key, { padding: 'x'.repeat(5000) })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /longer than 4096/, token })
  })

  it('rejects an oversized JOSE header before parsing it', async () => {
    // Well under the token limit, but a 600-character kid makes the header segment exceed 512.
    const token = await signRawToken(stack.key, header({ kid: 'k'.repeat(600) }), accessTokenClaims())
    expect(token.length).toBeLessThan(4096)
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /header is too large/, token })
  })
})

describe('tokens that must never verify', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('rejects alg "%s"', async (alg) => {
    const token = `${base64url(JSON.stringify(header({ alg })))}.${base64url(JSON.stringify(accessTokenClaims()))}.`
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /algorithm is not an accepted/, token })
  })

  it('rejects HS256 signed with the public key as the HMAC secret, because the algorithm is not allowed', async () => {
    const signingInput = `${base64url(JSON.stringify(header({ alg: 'HS256' })))}.${base64url(JSON.stringify(accessTokenClaims()))}`
    const mac = createHmac('sha256', JSON.stringify(stack.key.publicJwk)).update(signingInput).digest()
    const token = `${signingInput}.${base64url(mac)}`
    await expectRejected(await callWith(token, '/api/hs256-probe'), { status: 401, error: 'invalid_token', token })
    // The rule, not the wording: an HS256 on the allow-list would fail later, on the key's algorithm.
    expect(await loggedTokenReason('/api/hs256-probe')).toBe('alg_not_allowed')
  })

  it('rejects a token that embeds its own key (jwk header)', async () => {
    const token = await signRawToken(attacker, header({ jwk: attacker.publicJwk }), accessTokenClaims())
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /header parameter jwk is not accepted/, token })
  })

  it.each(['jku', 'x5u'])('rejects a %s header pointing elsewhere, without fetching it', async (parameter) => {
    let hits = 0
    const elsewhere = createServer((_request, response) => {
      hits++
      response.end(JSON.stringify({ keys: [attacker.publicJwk] }))
    })
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/jwks.json`
    const token = await signRawToken(attacker, header({ [parameter]: url }), accessTokenClaims())
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: new RegExp(`header parameter ${parameter} is not accepted`), token })
    expect(hits).toBe(0)
    await new Promise<void>((resolve) => elsewhere.close(() => resolve()))
  })

  it('rejects an x5c header', async () => {
    const token = await signRawToken(attacker, header({ x5c: ['MIIB'] }), accessTokenClaims())
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /header parameter x5c is not accepted/, token })
  })

  it.each([['path traversal', '../../../../etc/passwd'], ['SQL', "' OR '1'='1' --"], ['NUL byte', 'key-1\u0000']])(
    'rejects a kid carrying %s text without fetching the JWKS',
    async (_label, kid) => {
      const hitsBefore = stack.jwks.hits
      const token = await signRawToken(stack.key, header({ kid }), accessTokenClaims())
      await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /key id is malformed/, token })
      expect(stack.jwks.hits).toBe(hitsBefore)
    },
  )

  it('rejects a well-formed but unknown kid', async () => {
    const token = await signRawToken(stack.key, header({ kid: 'no-such-key' }), accessTokenClaims())
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /unknown key/, token })
  })

  it('rejects an ECDSA signature of zeros (r = s = 0)', async () => {
    const token = await signRawToken(stack.key, header(), accessTokenClaims(), new Uint8Array(64))
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /signature is invalid/, token })
  })

  it('rejects a token signed by another key under the same kid', async () => {
    const token = await signAccessToken(attacker)
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /signature is invalid/, token })
  })

  it('rejects an ID token (typ JWT) used as an access token', async () => {
    const token = await signAccessToken(stack.key, {}, { typ: 'JWT' })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /type must be at\+jwt/, token })
  })

  it('rejects a token without typ', async () => {
    const token = await signRawToken(stack.key, { alg: 'ES256', kid: 'key-1' }, accessTokenClaims())
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /type must be at\+jwt/, token })
  })

  it('rejects an unknown critical header parameter', async () => {
    const token = await signRawToken(stack.key, header({ crit: ['urn:example:policy'], 'urn:example:policy': true }), accessTokenClaims())
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /critical header/, token })
  })

  it('rejects an unencoded payload (b64: false)', async () => {
    const token = await signRawToken(stack.key, header({ b64: false, crit: ['b64'] }), accessTokenClaims())
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /unencoded payloads/, token })
  })

  it('rejects a JWE', async () => {
    const token = `${base64url(JSON.stringify({ alg: 'dir', enc: 'A256GCM' }))}..${base64url('iv-iv-iv-iv')}.${base64url('ciphertext')}.${base64url('tag-tag-tag-tag')}`
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /JWE/, token })
  })

  it('rejects non-canonical base64url (non-zero pad bits in the signature)', async () => {
    const token = await signAccessToken(stack.key)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    // 64-byte signature = 86 characters; the last one carries 4 unused bits. Setting one still decodes to the same bytes.
    const last = alphabet.indexOf(token.at(-1)!)
    const tampered = token.slice(0, -1) + alphabet[last | 1]
    await expectRejected(await callWith(tampered), { status: 401, error: 'invalid_token', description: /canonical base64url/, token: tampered })
  })

  it('rejects padded base64url', async () => {
    const token = `${await signAccessToken(stack.key)}==`
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /canonical base64url/, token })
  })
})

describe('claims that fail validation', () => {
  const now = () => Math.floor(Date.now() / 1000)

  it('rejects an expired token', async () => {
    const token = await signAccessToken(stack.key, { iat: now() - 3600, exp: now() - 600 })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /expired/, token })
  })

  it('rejects a token whose nbf is in the future beyond the clock tolerance', async () => {
    const token = await signAccessToken(stack.key, { nbf: now() + 120 })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /not yet valid/, token })
  })

  it('accepts a token whose iat is ahead by less than the clock tolerance', async () => {
    const token = await signAccessToken(stack.key, { iat: now() + 10, nbf: now() + 10 })
    sentTokens.push(token)
    const response = await stack.edge.fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
  })

  it('rejects a token issued in the future beyond the clock tolerance', async () => {
    const token = await signAccessToken(stack.key, { iat: now() + 120 })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /issued in the future/, token })
  })

  it('rejects a token from another issuer', async () => {
    const token = await signAccessToken(stack.key, { iss: 'http://evil.test' })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /issuer/, token })
  })

  it("rejects a token for another route's audience", async () => {
    const token = await signAccessToken(stack.key, { aud: ['admin-api'], roles: ['portcullis:admin'] })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /audience/, token })
  })

  it.each(['exp', 'sub', 'sid', 'jti', 'iat', 'client_id'])('rejects a token without %s', async (claim) => {
    const token = await signAccessToken(stack.key, { [claim]: undefined })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: new RegExp(`missing the ${claim} claim`), token })
  })

  it.each([
    ['roles that are not a list', { roles: 'portcullis:admin' }],
    ['an aud that is not a string or list of strings', { aud: [42] }],
    ['a non-integer exp', { exp: 'tomorrow' }],
    ['a scope that is not a string', { scope: ['orders:read'] }],
  ])('rejects claims with %s', async (_label, claims) => {
    const token = await signRawToken(stack.key, header(), { ...accessTokenClaims(), ...claims })
    const response = await callWith(token)
    expect(response.status).toBe(401)
    expect(await response.clone().json()).toMatchObject({ error: 'invalid_token' })
    await expectRejected(response, { status: 401, error: 'invalid_token', token })
  })

  it('rejects claims that could not be forwarded as header values', async () => {
    const token = await signAccessToken(stack.key, { sub: 'user\r\nX-Portcullis-Roles: admin' })
    await expectRejected(await callWith(token), { status: 401, error: 'invalid_token', description: /cannot be forwarded/, token })
  })
})

describe('authorization', () => {
  it('answers 403 insufficient_scope naming the missing scope', async () => {
    const token = await signAccessToken(stack.key, { scope: 'orders:read' })
    const response = await callWith(token, '/api/orders/1', { method: 'POST' })
    expect(response.headers.get('WWW-Authenticate')).toContain('scope="orders:write"')
    await expectRejected(response, { status: 403, error: 'insufficient_scope', description: /lacks the scope orders:write/, token })
  })

  it('answers 403 when the route requires a role the token does not carry', async () => {
    const token = await signAccessToken(stack.key, { aud: ['admin-api'], roles: ['support'] })
    await expectRejected(await callWith(token, '/admin/users'), { status: 403, error: 'insufficient_scope', description: /required role/, token })
  })

  it('forwards when the route requires a role the token carries', async () => {
    const token = await signAccessToken(stack.key, { aud: ['admin-api'], roles: ['support', 'portcullis:admin'] })
    sentTokens.push(token)
    const response = await stack.edge.fetch('/admin/users', { headers: { Authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
  })
})

describe('request log', () => {
  it('writes one JSON line per request with route, status and reason, and never a token', async () => {
    const token = await signAccessToken(stack.key, { iss: 'http://evil.test' })
    await callWith(token)
    // Logs arrive from workerd's stdout asynchronously.
    await expect.poll(() => stack.edge.requestLogs().some((line) => line.reason === 'token issuer is not accepted')).toBe(true)
    const line = stack.edge.requestLogs().find((entry) => entry.reason === 'token issuer is not accepted')
    expect(line).toMatchObject({ method: 'GET', path: '/api/me', route: '/api/', status: 401, error: 'invalid_token' })
    // Every line carries the edge's own time in milliseconds, to tell edge latency from the origin's.
    expect(line?.totalMs).toEqual(expect.any(Number))
    expect(line!.totalMs).toBeGreaterThanOrEqual(0)
    const everything = stack.edge.logs.join('\n')
    for (const sent of sentTokens) expect(everything).not.toContain(sent)
  })
})
