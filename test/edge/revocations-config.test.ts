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

  it('defaults to central\'s feed path, a 1 s refresh, a 1.5 s trust age, 60 s max staleness, fail-open and a 0.5 s hub poll', () => {
    expect(parseEdgeConfig({ ...base, EDGE_FEED_TOKEN: TOKEN }).revocation).toEqual({
      url: 'http://central.test:8787/edge/revocations',
      token: TOKEN,
      pollSeconds: 1,
      trustSeconds: 1.5,
      maxStalenessSeconds: 60,
      failureMode: 'fail-open',
      fetchTimeoutMs: 2000,
      hub: { pollMs: 500, idleSeconds: 60, timeoutMs: 1000 },
    })
  })

  it('keeps the default trust age within max staleness and at least the refresh interval', () => {
    expect(parseEdgeConfig({ ...base, EDGE_FEED_TOKEN: TOKEN, REVOCATION_POLL_SECONDS: '0.2', REVOCATION_MAX_STALENESS_SECONDS: '1' }).revocation?.trustSeconds).toBe(1)
    expect(parseEdgeConfig({ ...base, EDGE_FEED_TOKEN: TOKEN, REVOCATION_POLL_SECONDS: '5' }).revocation?.trustSeconds).toBe(5)
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
      REVOCATION_TRUST_SECONDS: '3',
      REVOCATION_HUB_POLL_MS: '250',
      REVOCATION_HUB_IDLE_SECONDS: '30',
      REVOCATION_HUB_TIMEOUT_MS: '400',
    }).revocation
    expect(revocation).toMatchObject({
      url: 'https://feed.example.test/edge/revocations',
      pollSeconds: 2,
      trustSeconds: 3,
      maxStalenessSeconds: 30,
      failureMode: 'fail-closed',
      fetchTimeoutMs: 500,
      hub: { pollMs: 250, idleSeconds: 30, timeoutMs: 400 },
    })
  })

  it.each([
    [{ REVOCATION_FAILURE_MODE: 'fail-sometimes', EDGE_FEED_TOKEN: TOKEN }, 'REVOCATION_FAILURE_MODE'],
    [{ REVOCATION_FAILURE_MODE: 'fail-closed' }, 'EDGE_FEED_TOKEN: is required when REVOCATION_FAILURE_MODE is "fail-closed"'],
    [{ EDGE_FEED_TOKEN: 'short' }, 'EDGE_FEED_TOKEN: must be at least 24 characters'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_POLL_SECONDS: '0' }, 'REVOCATION_POLL_SECONDS'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_POLL_SECONDS: '30', REVOCATION_MAX_STALENESS_SECONDS: '10' }, 'REVOCATION_MAX_STALENESS_SECONDS: must be at least REVOCATION_POLL_SECONDS'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_FEED_URL: 'ftp://central.test/feed' }, 'REVOCATION_FEED_URL'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_POLL_SECONDS: '2', REVOCATION_TRUST_SECONDS: '1' }, 'REVOCATION_TRUST_SECONDS: must be between'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_TRUST_SECONDS: '90' }, 'REVOCATION_TRUST_SECONDS: must be between'],
    [{ EDGE_FEED_TOKEN: TOKEN, REVOCATION_HUB_POLL_MS: '10' }, 'REVOCATION_HUB_POLL_MS'],
  ])('rejects %o, naming the variable', (vars, expected) => {
    expect(problems({ ...base, ...vars }).join('\n')).toContain(expected)
  })
})
