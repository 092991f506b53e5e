import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_ROLE } from '../../../shared/access-token-claims'
import { ADMIN_API_ACTOR } from '../../../central/http/require-admin-token'
import { TEST_ADMIN_TOKEN } from '../../support/central-app'
import { bearer } from '../../support/central-requests'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { insertTestUser } from '../../support/users'
import { CookieJar, startUpstreamProvider, type UpstreamProvider } from '../../support/upstream-provider'
import { listen, runPortcullis } from '../cli/cli-support'
import { confirmationForm, ConsoleBrowser } from '../console/console-support'
import { buildFederationApp, CENTRAL, CLIENT_SECRET, signIn, type FederationTestApp } from './federation-harness'

// Admin API, CLI and console views of identity links, with links made by real sign-ins at oidc-provider.

const GRANT = { audiences: ['https://api.example.test'], scopes: ['read'], roles: [] }
const ADMIN_PASSWORD = 'console admin password 1'

let db: TestDatabase
let upstream: UpstreamProvider
let f: FederationTestApp
let server: Awaited<ReturnType<typeof listen>>
let cliEnv: Record<string, string>

beforeAll(async () => {
  db = await createTestDatabase()
  upstream = await startUpstreamProvider({
    clients: [{ client_id: 'portcullis', client_secret: CLIENT_SECRET, redirect_uris: ['demo', 'existing'].map((id) => `${CENTRAL}/auth/callback/${id}`) }],
    accounts: ['alice', 'bob', 'carol', 'dave'].map((login) => ({ login, email: `${login}@example.com`, email_verified: true })),
  })
  const base = { issuer: upstream.issuer, client_id: 'portcullis', client_secret: CLIENT_SECRET, grant: GRANT }
  // Same issuer, two rule sets: just-in-time users, and admin-created users only.
  f = await buildFederationApp(db.sql, [
    { ...base, id: 'demo', label: 'Demo IdP' },
    { ...base, id: 'existing', require_existing_user: true },
  ])
  server = await listen(f)
  cliEnv = { PORTCULLIS_URL: server.url, PORTCULLIS_ADMIN_TOKEN: TEST_ADMIN_TOKEN }
})

afterAll(async () => {
  await server?.close()
  await upstream?.close()
  await db?.drop()
})

const admin = (path: string, init: RequestInit = {}) =>
  f.request(path, { ...init, headers: { ...bearer(TEST_ADMIN_TOKEN), ...(init.headers as Record<string, string> | undefined) } })

const identityQuery = (subject: string, issuer = upstream.issuer) => new URLSearchParams({ issuer, subject }).toString()

/** Signs `login` in through `providerId`; the new session's user and session ids and its access token. */
async function signInAs(providerId: string, login: string): Promise<{ userId: string; sessionId: string; accessToken: string; username: string }> {
  const jar = new CookieJar()
  const response = await signIn(f, jar, providerId, login)
  expect(response.status).toBe(302)
  const accessToken = jar.get('portcullis_at')!
  const { sub, sid } = decodeJwt(accessToken) as { sub: string; sid: string }
  const [row] = await db.sql<{ username: string }[]>`select username from users where id = ${sub}`
  return { userId: sub, sessionId: sid, accessToken, username: row!.username }
}

interface IdentityBody {
  provider: string
  issuer: string
  subject: string
  email: string | null
  linked_at: string
  last_used_at: string
}
interface SessionBody {
  id: string
  provider: string | null
  current?: boolean
}

describe('admin API', () => {
  it('shows a user\'s linked identity and which provider each session came from', async () => {
    const alice = await signInAs('demo', 'alice')
    const shown = await admin(`/admin/users/${alice.username}`)
    expect(shown.status).toBe(200)
    const body = (await shown.json()) as { username: string; identities: IdentityBody[] }
    expect(body.identities).toEqual([
      { provider: 'demo', issuer: upstream.issuer, subject: 'alice', email: 'alice@example.com', linked_at: f.clock().toISOString(), last_used_at: f.clock().toISOString() },
    ])

    // An admin-vouched session of the same user has no provider.
    const vouched = await admin('/admin/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ subject: alice.username }) })
    expect(vouched.status).toBe(200)
    const vouchedSid = decodeJwt(((await vouched.json()) as { access_token: string }).access_token).sid as string

    const listed = (await (await admin(`/admin/users/${alice.username}/sessions`)).json()) as { sessions: SessionBody[] }
    expect(listed.sessions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: alice.sessionId, provider: 'demo' }),
        expect.objectContaining({ id: vouchedSid, provider: null }),
      ]),
    )
    // The user's own listing says the same.
    const own = (await (await f.request('/auth/sessions', { headers: bearer(alice.accessToken) })).json()) as { sessions: SessionBody[] }
    expect(own.sessions).toEqual(
      expect.arrayContaining([
        { ...listed.sessions.find((s) => s.id === alice.sessionId)!, current: true },
        expect.objectContaining({ id: vouchedSid, provider: null, current: false }),
      ]),
    )
  })

  it('unlinks an identity (204, audited with the admin as actor); the user\'s sessions stay and the next sign-in is a first one', async () => {
    const alice = (await db.sql<{ id: string; username: string }[]>`select id, username from users where username = 'alice@example.com'`)[0]!
    const unlinked = await admin(`/admin/users/${alice.username}/identities?${identityQuery('alice')}`, { method: 'DELETE' })
    expect(unlinked.status).toBe(204)
    expect(await unlinked.text()).toBe('')

    expect(await db.sql`select 1 from identity_links where issuer = ${upstream.issuer} and subject = 'alice'`).toHaveLength(0)
    const [audit] = await db.sql<{ actor: string; details: { identity_unlinked?: unknown } }[]>`
      select actor, details from audit_events where event_type = 'user.updated' and user_id = ${alice.id} order by id desc limit 1`
    expect(audit).toMatchObject({ actor: ADMIN_API_ACTOR, details: { identity_unlinked: { provider: 'demo', issuer: upstream.issuer, subject: 'alice' } } })
    expect(((await (await admin(`/admin/users/${alice.username}`)).json()) as { identities: unknown[] }).identities).toEqual([])
    const sessions = (await (await admin(`/admin/users/${alice.username}/sessions`)).json()) as { sessions: { state: string; provider: string | null }[] }
    expect(sessions.sessions.filter((s) => s.provider === 'demo').map((s) => s.state)).toEqual(['active'])

    // The demo provider creates users just in time: a new user, whose name avoids the taken one.
    const again = await signInAs('demo', 'alice')
    expect(again.userId).not.toBe(alice.id)
    expect(again.username).toBe('alice@example.com-2')
    const [link] = await db.sql`select user_id, provider_id from identity_links where issuer = ${upstream.issuer} and subject = 'alice'`
    expect(link).toEqual({ user_id: again.userId, provider_id: 'demo' })
  })

  it('after an unlink, a provider that requires an existing user refuses the identity', async () => {
    expect((await signIn(f, new CookieJar(), 'existing', 'bob')).status).toBe(403)
    const linked = await signInAs('demo', 'bob')
    expect((await signInAs('existing', 'bob')).userId).toBe(linked.userId)
    expect((await admin(`/admin/users/${linked.username}/identities?${identityQuery('bob')}`, { method: 'DELETE' })).status).toBe(204)
    expect((await signIn(f, new CookieJar(), 'existing', 'bob')).status).toBe(403)
    expect(await db.sql`select 1 from identity_links where subject = 'bob'`).toHaveLength(0)
  })

  it('answers 404 for a link the user does not have, an unknown user, and another user\'s link', async () => {
    const carol = await insertTestUser(db.sql, { username: 'carol-local' })
    const dave = await signInAs('demo', 'dave')
    for (const path of [
      `/admin/users/${carol.username}/identities?${identityQuery('nobody')}`,
      `/admin/users/${carol.username}/identities?${identityQuery('dave', 'https://other.example')}`,
      `/admin/users/no-such-user/identities?${identityQuery('dave')}`,
      `/admin/users/${carol.username}/identities?${identityQuery('dave')}`,
    ]) {
      const response = await admin(path, { method: 'DELETE' })
      expect({ path, status: response.status }).toEqual({ path, status: 404 })
      expect(await response.json()).toMatchObject({ error: 'not_found' })
    }
    expect(await db.sql`select 1 from identity_links where subject = 'dave' and user_id = ${dave.userId}`).toHaveLength(1)
  })

  it('refuses an unlink without issuer or subject (400) and without the admin token (401)', async () => {
    expect((await admin(`/admin/users/dave@example.com/identities?subject=dave`, { method: 'DELETE' })).status).toBe(400)
    expect((await admin(`/admin/users/dave@example.com/identities?issuer=${encodeURIComponent(upstream.issuer)}`, { method: 'DELETE' })).status).toBe(400)
    expect((await f.request(`/admin/users/dave@example.com/identities?${identityQuery('dave')}`, { method: 'DELETE' })).status).toBe(401)
  })
})

describe('CLI', () => {
  it('users show prints the identities, sessions list the provider, users unlink removes a link', async () => {
    const carol = await signInAs('demo', 'carol')
    const show = await runPortcullis(['users', 'show', carol.username], cliEnv)
    expect(show).toMatchObject({ code: 0, stderr: '' })
    expect(show.stdout).toMatch(/PROVIDER\s+ISSUER\s+SUBJECT\s+EMAIL/)
    expect(show.stdout).toMatch(new RegExp(`demo\\s+${upstream.issuer}\\s+carol\\s+carol@example\\.com`))
    const json = await runPortcullis(['users', 'show', carol.username, '--json'], cliEnv)
    expect(JSON.parse(json.stdout)).toMatchObject({ identities: [{ provider: 'demo', issuer: upstream.issuer, subject: 'carol' }] })

    const sessions = await runPortcullis(['sessions', 'list', carol.username], cliEnv)
    expect(sessions.code).toBe(0)
    expect(sessions.stdout).toMatch(/CLIENT\s+PROVIDER/)
    expect(sessions.stdout).toMatch(new RegExp(`${carol.sessionId}\\s+active\\s+\\S+\\s+demo`))

    const usage = await runPortcullis(['users', 'unlink', carol.username, '--issuer', upstream.issuer], cliEnv)
    expect(usage.code).toBe(2)
    const unlink = await runPortcullis(['users', 'unlink', carol.username, '--issuer', upstream.issuer, '--subject', 'carol'], cliEnv)
    expect(unlink).toMatchObject({ code: 0, stderr: '' })
    expect(unlink.stdout).toContain(`unlinked carol at ${upstream.issuer} from ${carol.username}`)
    expect(await db.sql`select 1 from identity_links where subject = 'carol'`).toHaveLength(0)
    expect((await runPortcullis(['users', 'show', carol.username], cliEnv)).stdout).toContain('no linked identities')

    const again = await runPortcullis(['users', 'unlink', carol.username, '--issuer', upstream.issuer, '--subject', 'carol'], cliEnv)
    expect(again.code).toBe(5)
    expect(again.stderr).toContain('not found')
  })
})

describe('console', () => {
  it('shows the linked identities and session providers, and unlinks only after confirmation', async () => {
    const dave = (await db.sql<{ id: string; username: string }[]>`select id, username from users where username = 'dave@example.com'`)[0]!
    const [daveSession] = await db.sql<{ id: string }[]>`select id from sessions where user_id = ${dave.id}`
    const adminUser = await insertTestUser(db.sql, { password: ADMIN_PASSWORD, roles: [ADMIN_ROLE] })
    const browser = new ConsoleBrowser(f)
    expect((await browser.signIn(adminUser.username, ADMIN_PASSWORD)).status).toBe(303)

    const page = await (await browser.get(`/console/users/${dave.username}`)).text()
    expect(page).toContain('Linked identities')
    expect(page).toContain(upstream.issuer)
    expect(page).toMatch(/<td class="mono">dave<\/td>/)
    expect(page).toMatch(new RegExp(`id="session-${daveSession!.id}"(?:(?!</tr>)[^])*<td>demo</td>`))
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!

    // The button's post answers with a confirmation page and unlinks nothing yet.
    const first = await browser.post(`/console/users/${dave.username}/identities/unlink`, { _csrf: csrf, issuer: upstream.issuer, subject: 'dave' })
    expect(first.status).toBe(200)
    const confirmationPage = await first.text()
    expect(confirmationPage).toContain('Unlink dave@example.com (demo) from dave@example.com?')
    expect(await db.sql`select 1 from identity_links where subject = 'dave'`).toHaveLength(1)
    const { action, fields } = confirmationForm(confirmationPage)
    expect(fields).toMatchObject({ issuer: upstream.issuer, subject: 'dave', confirmed: '1' })
    const response = await browser.post(action, fields)
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(`/console/users/${encodeURIComponent(dave.username)}?done=unlinked`)
    expect(await db.sql`select 1 from identity_links where subject = 'dave'`).toHaveLength(0)
    const [audit] = await db.sql<{ actor: string }[]>`
      select actor from audit_events where event_type = 'user.updated' and user_id = ${dave.id} order by id desc limit 1`
    expect(audit!.actor).toBe(`admin:${adminUser.username}`)

    const after = await (await browser.get(response.headers.get('location')!)).text()
    expect(after).toContain('Identity unlinked.')
    expect(after).toContain('No linked identities')
    // The session keeps its provider after the unlink.
    expect(after).toMatch(new RegExp(`id="session-${daveSession!.id}"(?:(?!</tr>)[^])*<td>demo</td>`))
  })

  it('asks for no confirmation and changes nothing for an identity the user does not have', async () => {
    const erin = await insertTestUser(db.sql, { password: ADMIN_PASSWORD, roles: [ADMIN_ROLE] })
    const browser = new ConsoleBrowser(f)
    await browser.signIn(erin.username, ADMIN_PASSWORD)
    const csrf = await browser.csrfFrom('/console/')
    const alice2 = 'alice@example.com-2'
    const response = await browser.post(`/console/users/${erin.username}/identities/unlink`, { _csrf: csrf, issuer: upstream.issuer, subject: 'alice' })
    expect(response.status).toBe(404)
    expect(await db.sql`select 1 from identity_links l join users u on u.id = l.user_id where u.username = ${alice2}`).toHaveLength(1)
  })
})
