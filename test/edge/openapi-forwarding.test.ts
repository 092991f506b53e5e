import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { EdgeConfigError, parseEdgeConfig } from '../../edge/config'
import { matchRoute } from '../../edge/routes'
import { startEdgeStack, type EdgeStack } from '../support/edge-stack'

const base = { ISSUER: 'https://auth.example.com', JWKS_URL: 'https://auth.example.com/.well-known/jwks.json', CENTRAL_URL: 'https://central.internal' }

describe('/openapi.json through the edge', () => {
  // The test origin stands in for central (CENTRAL_URL points at it).
  let stack: EdgeStack
  beforeAll(async () => {
    stack = await startEdgeStack()
  })
  afterAll(() => stack.close())
  beforeEach(() => {
    stack.origin.requests.length = 0
  })

  it("forwards GET /openapi.json to central without a token, as it does central's /auth/ and /oauth/ paths", async () => {
    const response = await stack.edge.fetch('/openapi.json')
    expect(response.status).toBe(200)
    await response.body?.cancel()
    expect(stack.origin.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /openapi.json'])
  })

  it('matches the document on whole segments: /openapi.jsonx is no route (404, not forwarded)', async () => {
    const response = await stack.edge.fetch('/openapi.jsonx')
    expect(response.status).toBe(404)
    await response.body?.cancel()
    expect(stack.origin.requests).toHaveLength(0)
  })
})

describe('/openapi.json in the route table', () => {
  it("goes to central even beside a catch-all route to an app's origin", () => {
    const config = parseEdgeConfig({ ...base, ROUTES: JSON.stringify([{ prefix: '/', origin: 'https://app.internal', audience: 'app' }]) })
    const route = matchRoute(config.routes, 'GET', '/openapi.json')
    expect(route).toMatchObject({ central: true, public: true, origin: 'https://central.internal' })
    expect(matchRoute(config.routes, 'GET', '/openapi.jsonx')).toMatchObject({ central: false, origin: 'https://app.internal' })
  })

  it('refuses a route that would take /openapi.json from central, naming the entry', () => {
    let problems: string[] = []
    try {
      parseEdgeConfig({ ...base, ROUTES: JSON.stringify([{ prefix: '/OpenAPI.json', origin: 'https://docs.internal', public: true }]) })
    } catch (error) {
      if (!(error instanceof EdgeConfigError)) throw error
      problems = error.problems
    }
    expect(problems).toEqual(['ROUTES[0] (prefix "/OpenAPI.json").prefix: /openapi.json is central\'s'])
  })
})
