import { describe, expect, it } from 'vitest'
import { EdgeConfigError, parseEdgeConfig } from '../../edge/config'

const base = {
  ISSUER: 'http://central.test',
  JWKS_URL: 'http://central.test/.well-known/jwks.json',
  CENTRAL_URL: 'http://central.test:8787',
  ROUTES: JSON.stringify([{ prefix: '/api/', origin: 'http://origin.test', audience: 'demo-api' }]),
}
const TOKEN = 'edge-feed-token-0123456789abcdef'

function problems(env: Record<string, string>): string[] {
  try {
    parseEdgeConfig(env)
  } catch (error) {
    if (error instanceof EdgeConfigError) return error.problems
    throw error
  }
  return []
}

describe('revocation feed settings (edge/config.ts)', () => {
  it('is off without EDGE_FEED_TOKEN', () => {
    expect(parseEdgeConfig(base).revocation).toBeUndefined()
  })

  it('defaults to central\'s feed path, a 5 s poll, 60 s max staleness and fail-open', () => {
    expect(parseEdgeConfig({ ...base, EDGE_FEED_TOKEN: TOKEN }).revocation).toEqual({
      url: 'http://central.test:8787/edge/revocations',
      token: TOKEN,
      pollSeconds: 5,
      maxStalenessSeconds: 60,
      failureMode: 'fail-open',
      fetchTimeoutMs: 2000,
    })
  })

  it('takes every setting from its variable', () => {
    const revocation = parseEdgeConfig({
      ...base,
      EDGE_FEED_TOKEN: TOKEN,
      REVOCATION_FEED_URL: 'https://feed.example.test/edge/revocations',
      REVOCATION_POLL_SECONDS: '2',
      REVOCATION_MAX_STALENESS_SECONDS: '30',
      REVOCATION_FAILURE_MODE: 'fail-closed',
      REVOCATION_TIMEOUT_MS: '500',
    }).revocation
    expect(revocation).toMatchObject({ url: 'https://feed.example.test/edge/revocations', pollSeconds: 2, maxStalenessSeconds: 30, failureMode: 'fail-closed', fetchTimeoutMs: 500 })
  })

  it.each([
    [{ REVOCATION_FAILURE_MODE: 'fail-sometimes', EDGE_FEED_TOKEN: TOKEN }, 'REVOCATION_FAILURE_MODE'],
    [{ REVOCATION_FAILURE_MODE: 'fail-closed' }, 'EDGE_FEED_TOKEN: is required when REVOCATION_FAILURE_MODE is "fail-closed"'],
    [{ EDGE_FEED_TOKEN: 'short' }, 'EDGE_FEED_TOKEN: must be at least 24 characters'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_POLL_SECONDS: '0' }, 'REVOCATION_POLL_SECONDS'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_POLL_SECONDS: '30', REVOCATION_MAX_STALENESS_SECONDS: '10' }, 'REVOCATION_MAX_STALENESS_SECONDS: must be at least REVOCATION_POLL_SECONDS'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_FEED_URL: 'ftp://central.test/feed' }, 'REVOCATION_FEED_URL'],
  ])('rejects %o, naming the variable', (vars, expected) => {
    expect(problems({ ...base, ...vars }).join('\n')).toContain(expected)
  })
})
