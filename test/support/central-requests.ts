import { decodeJwt } from 'jose'
import { expect } from 'vitest'
import { RevocationFeedSchema } from '../../shared/revocation-feed'
import { TEST_ADMIN_TOKEN, type CentralTestApp } from './central-app'

/** POST /auth/login with JSON. */
export async function login(t: CentralTestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return await t.app.request('/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

/** POST /oauth/token with a form-encoded refresh grant. */
export async function refresh(t: CentralTestApp, refreshToken: string | undefined, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const form = new URLSearchParams({ grant_type: 'refresh_token', ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }), ...extra })
  return await t.app.request('/oauth/token', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: form.toString() })
}

export function bearer(accessToken: string) {
  return { Authorization: `Bearer ${accessToken}` }
}

/** The answer of PATCH /admin/users/{username}: the user and what the change did to its sessions. */
export interface UserChangeAnswer {
  sessions_revoked: number
  sessions_narrowed: number
  not_before: string | null
}

/** PATCH /admin/users/{username} as the admin; the change must succeed. */
export async function patchUser(t: CentralTestApp, username: string, body: Record<string, unknown>): Promise<UserChangeAnswer> {
  const response = await t.app.request(`/admin/users/${username}`, {
    method: 'PATCH',
    headers: { ...bearer(TEST_ADMIN_TOKEN), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(200)
  return (await response.json()) as UserChangeAnswer
}

/**
 * What the edge does with central's revocation feed (fetched with `feedToken`): reject an access
 * token whose session is listed or whose `iat` is before its user's `not_before`.
 */
export async function edgeWouldReject(t: CentralTestApp, feedToken: string, accessToken: string): Promise<boolean> {
  const response = await t.app.request('/edge/revocations', { headers: bearer(feedToken) })
  const feed = RevocationFeedSchema.parse(await response.json())
  const { sub, sid, iat } = decodeJwt(accessToken) as { sub: string; sid: string; iat: number }
  const user = feed.users.find((entry) => entry.sub === sub)
  return feed.sessions.some((entry) => entry.sid === sid) || (user !== undefined && iat < user.not_before)
}
