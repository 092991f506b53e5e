import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../central/config'

function messageOf(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected loadConfig to fail')
}

describe('loadConfig', () => {
  it('gives every variable its documented default', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      PORT: 8787,
      HOST: '127.0.0.1',
      PORTCULLIS_DATA_DIR: '.portcullis',
      DATABASE_POOL_MAX: 10,
      ACCESS_TOKEN_TTL_SECONDS: 900,
      REFRESH_IDLE_TTL_SECONDS: 2_592_000,
      REFRESH_ABSOLUTE_TTL_SECONDS: 7_776_000,
      REFRESH_GRACE_SECONDS: 10,
      LOGIN_MAX_FAILURES_PER_USERNAME_AND_IP: 5,
      LOGIN_MAX_FAILURES_PER_USERNAME: 50,
      LOGIN_MAX_FAILURES_PER_IP: 50,
      LOGIN_THROTTLE_WINDOW_SECONDS: 900,
      TRUST_PROXY: false,
      COOKIE_SECURE: true,
      ALLOWED_ORIGINS: [],
      MAX_BODY_BYTES: 16_384,
    })
    expect(config.DATABASE_URL).toBeUndefined()
    expect(config.ADMIN_TOKEN).toBeUndefined()
  })

  it('treats an empty DATABASE_URL or ADMIN_TOKEN as unset', () => {
    const config = loadConfig({ DATABASE_URL: '', ADMIN_TOKEN: '' })
    expect(config.DATABASE_URL).toBeUndefined()
    expect(config.ADMIN_TOKEN).toBeUndefined()
  })

  it('converts numbers, booleans and lists from their string form', () => {
    const config = loadConfig({ PORT: '9000', TRUST_PROXY: 'true', ALLOWED_ORIGINS: 'https://a.example, https://b.example' })
    expect(config.PORT).toBe(9000)
    expect(config.TRUST_PROXY).toBe(true)
    expect(config.ALLOWED_ORIGINS).toEqual(['https://a.example', 'https://b.example'])
  })

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'not a url'],
    ['ACCESS_TOKEN_TTL_SECONDS', '0'],
    ['REFRESH_GRACE_SECONDS', '-1'],
    ['LOGIN_MAX_FAILURES_PER_IP', '1.5'],
    ['ADMIN_TOKEN', 'too-short'],
    ['TRUST_PROXY', 'yes'],
    ['ISSUER', 'central'],
  ])('fails at start naming %s when it is %j', (name, value) => {
    expect(messageOf({ [name]: value })).toMatch(new RegExp(`^\\s+${name}: `, 'm'))
  })

  it('names every bad variable at once', () => {
    const message = messageOf({ PORT: 'x', MAX_BODY_BYTES: '-5' })
    expect(message).toContain('PORT')
    expect(message).toContain('MAX_BODY_BYTES')
  })

  it('requires KEY_ENCRYPTION_SECRET in production', () => {
    expect(messageOf({ NODE_ENV: 'production' })).toContain('KEY_ENCRYPTION_SECRET')
    expect(loadConfig({ NODE_ENV: 'production', KEY_ENCRYPTION_SECRET: 'x'.repeat(32) }).NODE_ENV).toBe('production')
  })

  it('refuses a session retention shorter than the revocation feed window, naming both settings', () => {
    // Feed window = ACCESS_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS = 930: a revoked session purged
    // sooner would leave the feed while its access token is still accepted.
    const message = messageOf({ ACCESS_TOKEN_TTL_SECONDS: '900', CLOCK_TOLERANCE_SECONDS: '30', SESSION_RETENTION_SECONDS: '929' })
    expect(message).toMatch(/^\s+SESSION_RETENTION_SECONDS: /m)
    expect(message).toContain('ACCESS_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS (930)')
    expect(loadConfig({ ACCESS_TOKEN_TTL_SECONDS: '900', CLOCK_TOLERANCE_SECONDS: '30', SESSION_RETENTION_SECONDS: '930' }).SESSION_RETENTION_SECONDS).toBe(930)
  })

  it('refuses a longer access-token lifetime that the default retention no longer covers', () => {
    expect(messageOf({ ACCESS_TOKEN_TTL_SECONDS: String(31 * 24 * 3600) })).toContain('SESSION_RETENTION_SECONDS')
  })

  it('never echoes the rejected value of a secret', () => {
    expect(messageOf({ ADMIN_TOKEN: 'short-secret' })).not.toContain('short-secret')
  })
})

describe('central reads the environment only in central/config.ts', () => {
  // Entry points hand the whole environment to a parser (`loadConfig(process.env)`); nothing
  // else picks single variables out of it.
  it('has no other process.env.NAME read under central/', async () => {
    const { readdir, readFile } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const root = new URL('../../central/', import.meta.url).pathname
    const readers: string[] = []
    for (const entry of await readdir(root, { recursive: true })) {
      if (!entry.endsWith('.ts') && !entry.endsWith('.tsx')) continue
      const text = await readFile(join(root, entry), 'utf8')
      if (/process\.env\s*(\.|\[)/.test(text) && entry !== 'config.ts') readers.push(entry)
    }
    expect(readers).toEqual([])
  })
})
