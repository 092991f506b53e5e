import { describe, expect, it } from 'vitest'
import { buildOriginRequestHeaders, identityHeaderNames, isWebSocketHandshake } from '../../edge/forward-to-origin'
import { toVerifiedToken } from '../../edge/verified-token'
import { currentUserFromClaims, currentUserFromHeaders } from '../../shared/current-user'

const claims = {
  iss: 'https://auth.example.com',
  sub: 'user-1',
  aud: ['api'],
  exp: 2_000_000_000,
  iat: 1_900_000_000,
  jti: 'jti-1',
  client_id: 'web',
  scope: 'a b',
  sid: 'sid-1',
}

const build = (inbound: Record<string, string>, overrides: Partial<Parameters<typeof buildOriginRequestHeaders>[1]> = {}) =>
  buildOriginRequestHeaders(new Headers(inbound), {
    identityHeaders: identityHeaderNames('X-Portcullis-'),
    identity: toVerifiedToken(claims, 'key-1').identity,
    stripCredentials: { cookieName: 'portcullis_at', authorization: 'any' },
    clientAddress: '203.0.113.9',
    requestUrl: new URL('https://edge.example.com/api/x'),
    webSocket: false,
    ...overrides,
  })

describe('buildOriginRequestHeaders', () => {
  it('removes headers named in Connection before setting identity headers, so smuggling cannot remove or keep them', () => {
    const headers = build({ Connection: 'x-portcullis-sub, x-custom', 'X-Custom': '1', 'X-Portcullis-Sub': 'admin' })
    expect(headers.get('X-Portcullis-Sub')).toBe('user-1')
    expect(headers.get('x-custom')).toBeNull()
    expect(headers.get('connection')).toBeNull()
  })

  it('removes hop-by-hop headers and client forwarding headers, and sets X-Forwarded-*', () => {
    const headers = build({ 'Keep-Alive': 'timeout=5', TE: 'trailers', Upgrade: 'h2c', 'Proxy-Authorization': 'Basic x', 'X-Forwarded-For': '6.6.6.6', Forwarded: 'for=6.6.6.6' })
    for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-authorization', 'forwarded']) expect(headers.get(name)).toBeNull()
    expect(headers.get('x-forwarded-for')).toBe('203.0.113.9')
    expect(headers.get('x-forwarded-proto')).toBe('https')
    expect(headers.get('x-forwarded-host')).toBe('edge.example.com')
  })

  it('strips Authorization and only the access-token cookie when credentials are not forwarded', () => {
    const headers = build({ Authorization: 'Bearer t', Cookie: 'a=1; portcullis_at=t; b=2' })
    expect(headers.get('authorization')).toBeNull()
    expect(headers.get('cookie')).toBe('a=1; b=2')
  })

  it('strips only a Bearer Authorization on a public route, also one joined behind another scheme, and keeps other schemes', () => {
    const publicRoute = { identity: undefined, stripCredentials: { cookieName: 'portcullis_at', authorization: 'bearer' as const } }
    expect(build({ Authorization: 'bearer t', Cookie: 'portcullis_at=t' }, publicRoute).get('authorization')).toBeNull()
    expect(build({ Authorization: 'Basic dTpw, Bearer t' }, publicRoute).get('authorization')).toBeNull()
    expect(build({ Authorization: 'Basic dTpw' }, publicRoute).get('authorization')).toBe('Basic dTpw')
    expect(build({ Cookie: 'a=1; portcullis_at=t' }, publicRoute).get('cookie')).toBe('a=1')
  })

  it('keeps Authorization when FORWARD_AUTHORIZATION is on', () => {
    const headers = build({ Authorization: 'Bearer t' }, { stripCredentials: undefined })
    expect(headers.get('authorization')).toBe('Bearer t')
  })

  it('sets every identity header an origin reads back into the same CurrentUser the claims give', () => {
    const withRoles = { ...claims, aud: ['api', 'billing'], roles: ['support', 'ops'] }
    const headers = build({}, { identity: toVerifiedToken(withRoles, 'key-1').identity })
    expect(headers.get('X-Portcullis-Roles')).toBe('support ops')
    expect(headers.get('X-Portcullis-Aud')).toBe('api billing')
    expect(JSON.stringify(currentUserFromHeaders(headers))).toBe(JSON.stringify(currentUserFromClaims(withRoles)))
  })

  it('sends no Roles header for a token without roles, and no identity at all on a public route', () => {
    expect(build({}).get('X-Portcullis-Roles')).toBeNull()
    const publicRoute = build({ 'X-Portcullis-Sub': 'admin' }, { identity: undefined })
    expect([...publicRoute.keys()].filter((name) => name.startsWith('x-portcullis-'))).toEqual([])
  })

  it('honours a custom identity prefix, stripping inbound headers with it', () => {
    const headers = build({ 'X-Auth-Sub': 'admin', 'X-Portcullis-Sub': 'kept' }, { identityHeaders: identityHeaderNames('X-Auth-') })
    expect(headers.get('X-Auth-Sub')).toBe('user-1')
    expect(headers.get('X-Portcullis-Sub')).toBe('kept')
  })

  it('drops inbound headers matching the prefix or a dropped name once `_` is read as `-`, also for a prefix written with `_`', () => {
    const headers = build({ X_Portcullis_Sub: 'admin', 'X-Portcullis_Roles': 'r', x_forwarded_for: '6.6.6.6', Keep_Alive: '1', X_Custom_Header: 'kept' })
    expect([...headers.keys()].filter((name) => name.includes('_'))).toEqual(['x_custom_header'])
    const underscored = build({ 'X-Auth-Sub': 'admin', X_Auth_Sid: 'x' }, { identityHeaders: identityHeaderNames('X_Auth_') })
    expect(underscored.get('X-Auth-Sub')).toBeNull()
    expect(underscored.get('X_Auth_Sub')).toBe('user-1')
    expect(underscored.get('X_Auth_Sid')).toBe('sid-1')
  })

  it('keeps Upgrade and Connection for a WebSocket handshake', () => {
    const headers = build({ Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'k' }, { webSocket: true })
    expect(headers.get('upgrade')).toBe('websocket')
    expect(headers.get('connection')).toBe('Upgrade')
    expect(headers.get('sec-websocket-key')).toBe('k')
  })
})

describe('isWebSocketHandshake', () => {
  const request = (method: string, headers: Record<string, string>) => new Request('https://edge.example.com/ws', { method, headers })

  it('accepts a GET with Upgrade: websocket and Connection listing upgrade, in any case (RFC 6455 §4.1)', () => {
    expect(isWebSocketHandshake(request('GET', { Upgrade: 'websocket', Connection: 'Upgrade' }))).toBe(true)
    expect(isWebSocketHandshake(request('GET', { Upgrade: 'WebSocket', Connection: 'keep-alive, upgrade' }))).toBe(true)
  })

  it('refuses Upgrade: websocket without Connection: upgrade, on another method, or with another protocol', () => {
    expect(isWebSocketHandshake(request('GET', { Upgrade: 'websocket' }))).toBe(false)
    expect(isWebSocketHandshake(request('GET', { Upgrade: 'websocket', Connection: 'keep-alive, upgraded' }))).toBe(false)
    expect(isWebSocketHandshake(request('POST', { Upgrade: 'websocket', Connection: 'Upgrade' }))).toBe(false)
    expect(isWebSocketHandshake(request('GET', { Upgrade: 'h2c', Connection: 'Upgrade' }))).toBe(false)
  })
})
