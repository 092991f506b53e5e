import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../central/config'
import { createAppDeps } from '../../central/app-deps'
import { createApp } from '../../central/http/app'

// The contract table of the central issue: every row must be in the document.
const CONTRACT = [
  'post /auth/login',
  'post /oauth/token',
  'post /oauth/revoke',
  'post /auth/logout',
  'post /auth/logout-all',
  'get /auth/sessions',
  'delete /auth/sessions/{id}',
  'post /admin/users',
  'patch /admin/users/{username}',
  'get /admin/users/{username}',
  'delete /admin/users/{username}/identities',
  'get /admin/users/{username}/sessions',
  'delete /admin/sessions/{id}',
  'delete /admin/users/{username}/sessions',
  'get /admin/audit',
  'post /admin/keys/rotate',
  'post /admin/sessions',
  'get /.well-known/jwks.json',
  'get /.well-known/oauth-authorization-server',
  'get /healthz',
  'get /readyz',
]
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

interface Operation {
  parameters?: { name: string; in: string; required?: boolean; $ref?: string }[]
  responses?: Record<string, unknown>
  security?: Record<string, string[]>[]
}
interface Document {
  openapi: string
  info: { title: string; version: string }
  paths: Record<string, Record<string, Operation>>
  components?: Record<string, Record<string, unknown>>
}

// The document is generated without touching the database.
const sql = postgres('postgres://nobody@127.0.0.1:1/none', { max: 1 })
let doc: Document
let raw: string

beforeAll(async () => {
  const app = createApp(createAppDeps({ sql, config: loadConfig({ ADMIN_TOKEN: 'x'.repeat(32) }), clock: () => new Date() }))
  const res = await app.request('/openapi.json')
  expect(res.status).toBe(200)
  expect(res.headers.get('Content-Type')).toMatch(/^application\/json/)
  raw = await res.text()
  doc = JSON.parse(raw) as Document
})
afterAll(() => sql.end({ timeout: 1 }))

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ path, method, op })),
  )

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document with title and version', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/)
    expect(doc.info.title).toBeTruthy()
    expect(doc.info.version).toBeTruthy()
  })

  it('lists every route of the contract table', () => {
    const listed = operations().map(({ method, path }) => `${method} ${path}`)
    expect(listed).toEqual(expect.arrayContaining(CONTRACT))
  })

  it('uses OpenAPI path templates ({id}), not router syntax (:id)', () => {
    expect(Object.keys(doc.paths).filter((path) => path.includes(':'))).toEqual([])
  })

  it('declares every path template parameter as a required path parameter', () => {
    const missing: string[] = []
    for (const { path, method, op } of operations()) {
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        const declared = (op.parameters ?? []).find((p) => p.in === 'path' && p.name === name)
        if (!declared || declared.required !== true) missing.push(`${method} ${path}: ${name}`)
      }
    }
    expect(missing).toEqual([])
  })

  it('gives every operation at least one response', () => {
    const without = operations().filter(({ op }) => !op.responses || Object.keys(op.responses).length === 0)
    expect(without.map(({ method, path }) => `${method} ${path}`)).toEqual([])
  })

  it('resolves every $ref within the document', () => {
    const refs = [...raw.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!)
    expect(refs.length).toBeGreaterThan(0)
    const unresolved = refs.filter((ref) => {
      if (!ref.startsWith('#/')) return true
      let node: unknown = doc
      for (const part of ref.slice(2).split('/')) {
        node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')]
      }
      return node === undefined
    })
    expect(unresolved).toEqual([])
  })

  it('declares every security scheme an operation names', () => {
    const schemes = doc.components?.securitySchemes ?? {}
    const named = operations().flatMap(({ op }) => (op.security ?? []).flatMap((requirement) => Object.keys(requirement)))
    expect(named.length).toBeGreaterThan(0)
    expect(named.filter((name) => !(name in schemes))).toEqual([])
  })

  it('marks every admin API operation as Bearer-protected', () => {
    const admin = operations().filter(({ path }) => path.startsWith('/admin/'))
    expect(admin.length).toBeGreaterThanOrEqual(11)
    for (const { method, path, op } of admin) expect({ method, path, security: op.security }).toEqual({ method, path, security: [{ bearerAuth: [] }] })
  })

  it('shows linked identities on a user and the provider of each session', () => {
    type Schema = { required?: string[]; allOf?: Schema[]; $ref?: string }
    const schemas = doc.components!.schemas! as Record<string, Schema>
    // The user with identities is the User schema and one more required list.
    expect(schemas.UserWithIdentities!.allOf).toEqual([{ $ref: '#/components/schemas/User' }, expect.objectContaining({ required: ['identities'] })])
    expect(schemas.LinkedIdentity!.required).toEqual(expect.arrayContaining(['provider', 'issuer', 'subject', 'email', 'linked_at']))
    expect(schemas.Session!.required).toContain('provider')
    const unlink = doc.paths['/admin/users/{username}/identities']!.delete!
    expect((unlink.parameters ?? []).filter((p) => p.in === 'query').map((p) => [p.name, p.required])).toEqual([['issuer', true], ['subject', true]])
    expect(Object.keys(unlink.responses!)).toContain('204')
  })

  it('documents that cookie-mode login and refresh keep the tokens out of the body', () => {
    const cookieDocs = (path: string) => doc.paths[path]!.post as Operation & { description?: string }
    for (const path of ['/auth/login', '/oauth/token']) {
      expect(cookieDocs(path).description).toMatch(/cookie mode[^]*left out of the body/i)
    }
    const tokenResponse = doc.components!.schemas!.TokenResponse as { required?: string[] }
    expect(tokenResponse.required).toEqual(expect.arrayContaining(['token_type', 'expires_in', 'scope']))
    expect(tokenResponse.required).not.toContain('access_token')
    expect(tokenResponse.required).not.toContain('refresh_token')
  })
})
