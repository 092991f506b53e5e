import { describe, expect, it } from 'vitest'
import { AccessTokenClaimsSchema, audienceList, readAccessTokenClaims, splitSpaceSeparated } from '../../shared/access-token-claims'

const valid = {
  iss: 'https://central.test',
  sub: 'user-1',
  aud: ['api'],
  exp: 1_700_000_300,
  iat: 1_700_000_000,
  jti: 'jti-1',
  client_id: 'web',
  scope: 'orders:read orders:write',
  sid: 'session-1',
}
const without = (claim: keyof typeof valid) => Object.fromEntries(Object.entries(valid).filter(([name]) => name !== claim))

/** Payloads the fast reader and the zod schema must answer alike: both accept (same output) or both refuse. */
const payloads: [label: string, payload: unknown][] = [
  ['every claim', valid],
  ['aud as one string', { ...valid, aud: 'api' }],
  ['aud as several strings', { ...valid, aud: ['api', 'admin-api'] }],
  ['nbf', { ...valid, nbf: 1_700_000_000 }],
  ['roles', { ...valid, roles: ['support', 'portcullis:admin'] }],
  ['empty roles', { ...valid, roles: [] }],
  ['no scope (defaults to empty)', without('scope')],
  ['an empty scope', { ...valid, scope: '' }],
  ['an unknown claim (dropped)', { ...valid, act: { sub: 'admin' } }],
  ['a DPoP binding (cnf.jkt)', { ...valid, cnf: { jkt: 'thumbprint' } }],
  ['a cnf with other members besides jkt (kept: jkt)', { ...valid, cnf: { jkt: 'thumbprint', 'x5t#S256': 'cert' } }],
  ['a cnf without jkt', { ...valid, cnf: { 'x5t#S256': 'cert' } }],
  ['an empty cnf.jkt', { ...valid, cnf: { jkt: '' } }],
  ['a numeric cnf.jkt', { ...valid, cnf: { jkt: 42 } }],
  ['cnf as a string', { ...valid, cnf: 'thumbprint' }],
  ['cnf as an array', { ...valid, cnf: [{ jkt: 'thumbprint' }] }],
  ['a null cnf', { ...valid, cnf: null }],
  ['negative times', { ...valid, exp: -1, iat: -5 }],
  ['no sub', without('sub')],
  ['no sid', without('sid')],
  ['no jti', without('jti')],
  ['no client_id', without('client_id')],
  ['no iss', without('iss')],
  ['no aud', without('aud')],
  ['no exp', without('exp')],
  ['no iat', without('iat')],
  ['an empty sub', { ...valid, sub: '' }],
  ['a numeric sub', { ...valid, sub: 42 }],
  ['an empty aud list', { ...valid, aud: [] }],
  ['an empty aud string', { ...valid, aud: '' }],
  ['an aud list with an empty string', { ...valid, aud: ['api', ''] }],
  ['an aud list with a number', { ...valid, aud: [42] }],
  ['a fractional exp', { ...valid, exp: 1_700_000_300.5 }],
  ['an exp beyond safe integers', { ...valid, exp: 2 ** 53 + 2 }],
  ['a string exp', { ...valid, exp: 'tomorrow' }],
  ['a fractional nbf', { ...valid, nbf: 1.5 }],
  ['a null nbf', { ...valid, nbf: null }],
  ['a scope list', { ...valid, scope: ['orders:read'] }],
  ['a null scope', { ...valid, scope: null }],
  ['roles as a string', { ...valid, roles: 'portcullis:admin' }],
  ['roles with a number', { ...valid, roles: ['support', 1] }],
  ['an array', [valid]],
  ['null', null],
  ['a string', 'claims'],
]

describe('readAccessTokenClaims agrees with AccessTokenClaimsSchema', () => {
  it.each(payloads)('%s', (_label, payload) => {
    const parsed = AccessTokenClaimsSchema.safeParse(payload)
    expect(readAccessTokenClaims(payload)).toEqual(parsed.success ? parsed.data : undefined)
  })

  it('accepts at least one payload and refuses at least one, so the table tests both sides', () => {
    const answers = payloads.map(([, payload]) => readAccessTokenClaims(payload) !== undefined)
    expect(answers).toContain(true)
    expect(answers).toContain(false)
  })
})

describe('splitSpaceSeparated', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['orders:read', ['orders:read']],
    ['orders:read orders:write', ['orders:read', 'orders:write']],
    ['  orders:read   orders:write ', ['orders:read', 'orders:write']],
  ])('splits %j into %j', (list, items) => {
    expect(splitSpaceSeparated(list)).toEqual(items)
  })
})

describe('audienceList', () => {
  it.each([
    ['api', ['api']],
    [['api', 'admin-api'], ['api', 'admin-api']],
  ])('reads %j as %j', (aud, list) => {
    expect(audienceList(aud)).toEqual(list)
  })
})
