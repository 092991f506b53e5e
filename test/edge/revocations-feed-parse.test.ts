import { describe, expect, it } from 'vitest'
import { parseRevocationFeed } from '../../edge/revocations'

const valid = {
  version: 'v1',
  generated_at: 1_800_000_000,
  window_seconds: 930,
  sessions: [{ sid: 'sid-1', revoked_at: 1_800_000_000 }],
  users: [{ sub: 'user-1', not_before: 1_799_999_990 }],
}

describe('parseRevocationFeed (the edge side of the wire format)', () => {
  it('accepts a feed that matches shared/revocation-feed.ts', () => {
    expect(parseRevocationFeed(structuredClone(valid))).toEqual(valid)
  })

  it.each([
    ['a session without sid', { sessions: [{ revoked_at: 1 }] }, 'sessions[0]'],
    ['an empty sid', { sessions: [{ sid: '', revoked_at: 1 }] }, 'sessions[0]'],
    ['a fractional revoked_at', { sessions: [{ sid: 'a', revoked_at: 1.5 }] }, 'sessions[0]'],
    ['a null user entry', { users: [null] }, 'users[0]'],
    ['a not_before given as a string', { users: [{ sub: 'u', not_before: '1' }] }, 'users[0]'],
  ])('rejects %s, naming the entry', (_name, patch, where) => {
    expect(() => parseRevocationFeed({ ...valid, ...patch })).toThrow(where)
  })

  it('rejects a body without a version or with sessions that are not a list', () => {
    expect(() => parseRevocationFeed({ ...valid, version: undefined })).toThrow()
    expect(() => parseRevocationFeed({ ...valid, sessions: 'none' })).toThrow()
  })
})
