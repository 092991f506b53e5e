import { describe, expect, it } from 'vitest'
import { boundByUserGrant, exceedingGrant, narrowGrant, type FullGrant, type Grant } from '../../../central/sessions/narrow-grant'
import { InvalidScope, InvalidTarget } from '../../../shared/errors'

const full = (audiences: string[], scopes: string[], roles: string[] = []): FullGrant => ({ audiences, scopes, roles })

describe('narrowGrant', () => {
  const grant: Grant = { audiences: ['a', 'b'], scopes: ['read', 'write'] }
  const cases: [string, { resource?: string; scopes?: string[] }, Grant][] = [
    ['keeps the full grant when nothing is asked', {}, grant],
    ['narrows the audiences to one resource', { resource: 'b' }, { audiences: ['b'], scopes: ['read', 'write'] }],
    ['narrows the scopes', { scopes: ['write'] }, { audiences: ['a', 'b'], scopes: ['write'] }],
    ['narrows both at once', { resource: 'a', scopes: ['read'] }, { audiences: ['a'], scopes: ['read'] }],
    ['drops repeated scopes', { scopes: ['read', 'read'] }, { audiences: ['a', 'b'], scopes: ['read'] }],
    ['keeps the requested scope order', { scopes: ['write', 'read'] }, { audiences: ['a', 'b'], scopes: ['write', 'read'] }],
    ['grants no scope when an empty list is asked', { scopes: [] }, { audiences: ['a', 'b'], scopes: [] }],
  ]
  it.each(cases)('%s', (_name, request, expected) => expect(narrowGrant(grant, request)).toEqual(expected))

  const refusals: [string, { resource?: string; scopes?: string[] }, typeof InvalidTarget | typeof InvalidScope][] = [
    ['refuses a resource outside the grant (invalid_target)', { resource: 'c' }, InvalidTarget],
    ['refuses an empty resource', { resource: '' }, InvalidTarget],
    ['refuses a scope outside the grant (invalid_scope)', { scopes: ['read', 'admin'] }, InvalidScope],
    ['refuses a good resource with a wider scope', { resource: 'a', scopes: ['admin'] }, InvalidScope],
  ]
  it.each(refusals)('%s', (_name, request, error) => expect(() => narrowGrant(grant, request)).toThrow(error))
})

describe('boundByUserGrant', () => {
  const cases: [string, FullGrant, FullGrant, FullGrant][] = [
    ['keeps a session within its user as it is', full(['a'], ['read'], ['r']), full(['a', 'b'], ['read', 'write'], ['r', 's']), full(['a'], ['read'], ['r'])],
    ['drops what the user no longer holds', full(['a', 'b'], ['read', 'write'], ['r', 's']), full(['b'], ['write'], []), full(['b'], ['write'], [])],
    ['never widens the session with what the user gained', full(['a'], ['read']), full(['a', 'b'], ['read', 'write'], ['r']), full(['a'], ['read'], [])],
    ["keeps the session's order", full(['b', 'a'], ['write', 'read']), full(['a', 'b'], ['read', 'write']), full(['b', 'a'], ['write', 'read'])],
    ['leaves nothing when the user holds nothing', full(['a'], ['read'], ['r']), full([], [], []), full([], [], [])],
  ]
  it.each(cases)('%s', (_name, session, user, expected) => expect(boundByUserGrant(session, user)).toEqual(expected))
})

describe('exceedingGrant', () => {
  const held = full(['a', 'b'], ['read'], ['r'])
  const cases: [string, FullGrant, keyof FullGrant | undefined][] = [
    ['is undefined for the same grant', held, undefined],
    ['is undefined for a narrower grant', full(['a'], [], []), undefined],
    ['names the audiences first', full(['c'], ['write'], ['x']), 'audiences'],
    ['names the scopes', full(['a'], ['write'], ['x']), 'scopes'],
    ['names the roles', full(['a'], ['read'], ['x']), 'roles'],
  ]
  it.each(cases)('%s', (_name, requested, expected) => expect(exceedingGrant(requested, held)).toBe(expected))
})
