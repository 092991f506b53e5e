import { createLocalJWKSet } from 'jose'
import { describe, expect, it } from 'vitest'
import { currentUserFromHeaders } from '../../shared/current-user'
import { InvalidToken } from '../../shared/errors'
import { createCurrentUserVerifier } from '../../shared/verify-current-user'
import { TEST_ISSUER, createSigningKey, signAccessToken } from '../support/edge-keys'

describe('currentUserFromHeaders', () => {
  it('turns the edge identity headers (Fetch Headers) into a CurrentUser', () => {
    const user = currentUserFromHeaders(
      new Headers({
        'X-Portcullis-Sub': 'user-1',
        'X-Portcullis-Sid': 'sid-1',
        'X-Portcullis-Scope': 'orders:read orders:write',
        'X-Portcullis-Aud': 'demo-api other',
        'X-Portcullis-Roles': 'support',
        'X-Portcullis-Client-Id': 'web',
        'X-Portcullis-Jti': 'jti-1',
      }),
    )
    expect(user).toMatchObject({ sub: 'user-1', sid: 'sid-1', scopes: ['orders:read', 'orders:write'], audiences: ['demo-api', 'other'], roles: ['support'], clientId: 'web', jti: 'jti-1' })
    expect(user?.can('orders:write')).toBe(true)
    expect(user?.can('orders:delete')).toBe(false)
    expect(user?.hasRole('support')).toBe(true)
    expect(user?.hasRole('portcullis:admin')).toBe(false)
  })

  it("reads Node's lower-cased IncomingHttpHeaders and a custom prefix", () => {
    const user = currentUserFromHeaders({ 'x-auth-sub': 'user-2', 'x-auth-sid': 'sid-2', 'x-auth-scope': '' }, { prefix: 'X-Auth-' })
    expect(user).toMatchObject({ sub: 'user-2', sid: 'sid-2', scopes: [], roles: [], clientId: undefined })
    expect(user?.can('anything')).toBe(false)
  })

  it('exposes a machine client and a sender-constrained request', () => {
    const machine = currentUserFromHeaders({
      'x-portcullis-sub': 'orders-batch',
      'x-portcullis-sid': 'client:orders-batch',
      'x-portcullis-client-id': 'orders-batch',
      'x-portcullis-client-type': 'machine',
      'x-portcullis-sender-constrained': 'dpop',
    })
    expect(machine).toMatchObject({ clientType: 'machine', senderConstrained: 'dpop' })
    const person = currentUserFromHeaders({ 'x-portcullis-sub': 'user-3', 'x-portcullis-sid': 'sid-3', 'x-portcullis-client-type': 'user' })
    expect(person).toMatchObject({ clientType: 'user', senderConstrained: undefined })
  })

  it('returns null on a public route (no identity headers)', () => {
    expect(currentUserFromHeaders(new Headers({ 'content-type': 'text/plain' }))).toBeNull()
    expect(currentUserFromHeaders({ 'x-portcullis-sub': 'only-sub' })).toBeNull()
  })

  it('cannot be changed by business logic', () => {
    const user = currentUserFromHeaders({ 'x-portcullis-sub': 'u', 'x-portcullis-sid': 's', 'x-portcullis-scope': 'a' })!
    expect(() => (user.scopes as string[]).push('admin')).toThrow(TypeError)
    expect(user.can('admin')).toBe(false)
  })
})

describe('createCurrentUserVerifier', () => {
  it('re-verifies a forwarded token into a CurrentUser', async () => {
    const key = await createSigningKey('key-1')
    const verify = createCurrentUserVerifier({ issuer: TEST_ISSUER, audience: 'demo-api', keys: createLocalJWKSet({ keys: [key.publicJwk] }) })
    const user = await verify(await signAccessToken(key, { roles: ['support'] }))
    expect(user).toMatchObject({ sub: 'user-123', sid: 'session-456', clientId: 'portcullis-web' })
    expect(user.can('orders:read')).toBe(true)
    expect(user.hasRole('support')).toBe(true)
  })

  it('calls a person a user even when their client_id names their own id; only the client-credentials sid makes a machine', async () => {
    const key = await createSigningKey('key-1')
    const verify = createCurrentUserVerifier({ issuer: TEST_ISSUER, audience: 'demo-api', keys: createLocalJWKSet({ keys: [key.publicJwk] }) })
    const person = await verify(await signAccessToken(key, { sub: 'user-123', client_id: 'user-123', sid: 'session-456' }))
    expect(person.clientType).toBe('user')
    const machine = await verify(await signAccessToken(key, { sub: 'orders-batch', client_id: 'orders-batch', sid: 'client:orders-batch' }))
    expect(machine.clientType).toBe('machine')
  })

  it('rejects a token for another audience', async () => {
    const key = await createSigningKey('key-1')
    const verify = createCurrentUserVerifier({ issuer: TEST_ISSUER, audience: 'billing-api', keys: createLocalJWKSet({ keys: [key.publicJwk] }) })
    await expect(verify(await signAccessToken(key))).rejects.toBeInstanceOf(InvalidToken)
  })

  it('rejects an ID token (typ JWT)', async () => {
    const key = await createSigningKey('key-1')
    const verify = createCurrentUserVerifier({ issuer: TEST_ISSUER, audience: 'demo-api', keys: createLocalJWKSet({ keys: [key.publicJwk] }) })
    await expect(verify(await signAccessToken(key, {}, { typ: 'JWT' }))).rejects.toBeInstanceOf(InvalidToken)
  })
})
