import { createServer, type Server } from 'node:net'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { holdRowLock } from '../../support/row-locks'
import { openPendingFlow, sealPendingFlow } from '../../../central/federation/pending-flow'
import { federationSettingsFrom } from '../../../central/federation/ports'
import { insertTestUser } from '../../support/users'
import { CookieJar, signInAtProvider, startUpstreamProvider, type UpstreamProvider } from '../../support/upstream-provider'
import { browse, buildFederationApp, CENTRAL, CLIENT_SECRET, countRows, signIn, startAndAuthenticate, type FederationTestApp } from './federation-harness'

const PROVIDER_IDS = ['demo', 'domain', 'existing', 'linking', 'lenient', 'other', 'down', 'slow']
const GRANT = { audiences: ['https://api.example.test'], scopes: ['read'], roles: ['member'] }

let db: TestDatabase
let upstream: UpstreamProvider
let otherUpstream: UpstreamProvider
let blackHole: Server
let f: FederationTestApp

const accounts = [
  { login: 'alice', email: 'Alice@Example.com', email_verified: true, name: 'Alice', groups: ['admins', 'staff'] },
  { login: 'bob', email: 'bob@example.com', email_verified: true, groups: [] },
  { login: 'carol', email: 'carol@example.com', email_verified: false },
  { login: 'dave', email: 'dave@elsewhere.test', email_verified: true },
  { login: 'erin', email: 'erin@example.com', email_verified: true },
  { login: 'frank', email: 'frank@example.com', email_verified: false, preferred_username: 'frank' },
  { login: 'gina', email: 'gina@example.com', email_verified: true },
  { login: 'hank', email: 'hank@example.com', email_verified: true },
  { login: 'ivan', email: 'ivan@example.com', email_verified: true },
  { login: 'jack', email: 'jack@example.com', email_verified: true },
  { login: 'kate', email: 'kate@example.com', email_verified: true },
  { login: 'liam', email: 'liam@example.com', email_verified: true },
  { login: 'mona', email: 'mona@example.com', email_verified: true },
  { login: 'nina', email: 'nina@example.com', email_verified: true },
  { login: 'oscar', email: 'oscar@example.com', email_verified: true },
]

const client = {
  client_id: 'portcullis',
  client_secret: CLIENT_SECRET,
  redirect_uris: PROVIDER_IDS.map((id) => `${CENTRAL}/auth/callback/${id}`),
  post_logout_redirect_uris: [`${CENTRAL}/`],
}

beforeAll(async () => {
  db = await createTestDatabase()
  upstream = await startUpstreamProvider({ clients: [client], accounts })
  otherUpstream = await startUpstreamProvider({ clients: [client], accounts })
  // Accepts connections and never answers: a provider that hangs.
  blackHole = createServer(() => {})
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve))
  const blackHolePort = (blackHole.address() as { port: number }).port
  const base = { client_id: 'portcullis', client_secret: CLIENT_SECRET, client_auth: 'client_secret_basic', grant: GRANT }
  f = await buildFederationApp(db.sql, [
    { ...base, id: 'demo', issuer: upstream.issuer, label: 'Demo IdP', scopes: 'openid email profile groups', roles_claim: 'groups', roles_map: { admins: ['admin'], staff: 'staff' } },
    { ...base, id: 'domain', issuer: upstream.issuer, allowed_email_domains: ['example.com'] },
    { ...base, id: 'existing', issuer: upstream.issuer, require_existing_user: true },
    { ...base, id: 'linking', issuer: upstream.issuer, link_by_email: true, require_verified_email: false },
    { ...base, id: 'lenient', issuer: upstream.issuer, require_verified_email: false },
    { ...base, id: 'other', issuer: otherUpstream.issuer },
    { ...base, id: 'down', issuer: 'http://127.0.0.1:9' },
    { ...base, id: 'slow', issuer: `http://127.0.0.1:${blackHolePort}`, timeout_ms: 300 },
  ])
})

afterAll(async () => {
  await upstream?.close()
  await otherUpstream?.close()
  blackHole?.close()
  await db?.drop()
})

let jar: CookieJar
beforeEach(() => {
  jar = new CookieJar()
})

/** Row count of every table: a start that stores nothing leaves it as it was. */
async function rowsPerTable(): Promise<Record<string, number>> {
  const rows = await db.sql<{ name: string; count: number }[]>`
    select table_name as name,
           (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I', table_name), false, true, '')))[1]::text::int as count
    from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`
  return Object.fromEntries(rows.map((r) => [r.name, r.count]))
}

async function lockWaiters(): Promise<number> {
  const [row] = await db.sql<{ waiting: number }[]>`
    select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`
  return row!.waiting
}

/** Asserts a failed callback wrote nothing: same user, link and session counts as before. */
async function expectNothingWritten(before: Awaited<ReturnType<typeof countRows>>) {
  expect(await countRows(db.sql)).toEqual(before)
}

describe('sign-in through an upstream provider', () => {
  it('creates the user just in time, links the identity, starts one session and redirects to return_to', async () => {
    const response = await signIn(f, jar, 'demo', 'alice', '/orders?page=2')
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/orders?page=2')
    const accessToken = jar.get('portcullis_at')!
    expect(jar.get('portcullis_rt')).toBeTruthy()
    // The access token verifies at central like any other (GET /auth/sessions with Bearer).
    const own = await f.request('/auth/sessions', { headers: { Authorization: `Bearer ${accessToken}` } })
    expect(own.status).toBe(200)
    const claims = decodeJwt(accessToken) as { sub: string; sid: string }
    expect(((await own.json()) as { sessions: { id: string; current?: boolean }[] }).sessions).toContainEqual(expect.objectContaining({ id: claims.sid, current: true }))
    const [user] = await db.sql<{ id: string; username: string; password_hash: string | null; roles: string[]; audiences: string[] }[]>`
      select id, username, password_hash, roles, audiences from users where id = ${claims.sub}`
    expect(user).toMatchObject({ username: 'alice@example.com', password_hash: null, audiences: GRANT.audiences })
    // Roles mapped from the provider's groups are the session's, not the user's.
    expect(user!.roles).toEqual(['member'])
    const links = await db.sql`select issuer, subject, provider_id from identity_links where user_id = ${claims.sub}`
    expect(links).toEqual([{ issuer: upstream.issuer, subject: 'alice', provider_id: 'demo' }])
    const [federated] = await db.sql`select provider_id, subject, provider_sid from federated_sessions where session_id = ${claims.sid}`
    expect(federated).toMatchObject({ provider_id: 'demo', subject: 'alice' })
    expect(federated!.provider_sid).toBeNull()
    const [audit] = await db.sql`select actor from audit_events where event_type = 'session.created' and session_id = ${claims.sid}`
    expect(audit).toBeTruthy()
    // The binding cookie is gone after the callback.
    expect(jar.get('portcullis_flow')).toBeUndefined()
  })

  it('reuses the identity link on a second sign-in: same user, a new session', async () => {
    await signIn(f, jar, 'demo', 'bob')
    const first = decodeJwt(jar.get('portcullis_at')!)
    const again = new CookieJar()
    const response = await signIn(f, again, 'demo', 'bob')
    expect(response.status).toBe(302)
    const second = decodeJwt(again.get('portcullis_at')!)
    expect(second.sub).toBe(first.sub)
    expect(second.sid).not.toBe(first.sid)
    const [row] = await db.sql<{ count: number }[]>`select count(*)::int as count from users where username like 'bob@%'`
    expect(row!.count).toBe(1)
  })

  it('maps the provider\'s groups to roles in the access token', async () => {
    await signIn(f, jar, 'demo', 'alice')
    const claims = decodeJwt(jar.get('portcullis_at')!) as { roles?: string[] }
    expect(claims.roles?.sort()).toEqual(['admin', 'member', 'staff'])
  })

  it('refuses a callback without state', async () => {
    const before = await countRows(db.sql)
    const callback = new URL(await startAndAuthenticate(f, jar, 'demo', 'gina'))
    callback.searchParams.delete('state')
    const response = await browse(f, jar, callback.href)
    expect(response.status).toBe(400)
    expect(await response.text()).toContain('Sign-in failed, try again')
    await expectNothingWritten(before)
  })

  it('refuses a callback with a state it never issued', async () => {
    const before = await countRows(db.sql)
    const callback = new URL(await startAndAuthenticate(f, jar, 'demo', 'gina'))
    callback.searchParams.set('state', 'forged-state-value')
    const response = await browse(f, jar, callback.href)
    expect(response.status).toBe(400)
    await expectNothingWritten(before)
  })

  it('refuses a callback without the binding cookie', async () => {
    const before = await countRows(db.sql)
    const callback = await startAndAuthenticate(f, jar, 'demo', 'gina')
    jar.delete('portcullis_flow')
    const response = await browse(f, jar, callback)
    expect(response.status).toBe(400)
    await expectNothingWritten(before)
  })

  it('refuses a callback URL opened in another browser (login CSRF)', async () => {
    const before = await countRows(db.sql)
    const callback = await startAndAuthenticate(f, jar, 'demo', 'gina')
    const victim = new CookieJar()
    await browse(f, victim, '/auth/sign-in/demo') // the victim has a binding cookie of their own
    const response = await browse(f, victim, callback)
    expect(response.status).toBe(400)
    expect(victim.get('portcullis_at')).toBeUndefined()
    await expectNothingWritten(before)
  })

  it('refuses a replayed callback (the flow and the code are single use)', async () => {
    const callback = await startAndAuthenticate(f, jar, 'demo', 'hank')
    const flowCookie = jar.get('portcullis_flow')!
    expect((await browse(f, jar, callback)).status).toBe(302)
    const before = await countRows(db.sql)
    const replay = await f.request(new URL(callback).pathname + new URL(callback).search, { headers: { cookie: `portcullis_flow=${flowCookie}` } })
    expect(replay.status).toBe(400)
    await expectNothingWritten(before)
    // Refused by the record of the completed sign-in, before the provider is asked again.
    const [used] = await db.sql`select 1 from federation_used_states where state_hash = sha256(${new URL(callback).searchParams.get('state')!}::bytea)`
    expect(used).toBeTruthy()
  })

  it('stores nothing when a sign-in starts: the flow travels in the browser\'s cookie', async () => {
    const before = await rowsPerTable()
    for (let i = 0; i < 5; i++) expect((await browse(f, new CookieJar(), '/auth/sign-in/demo?return_to=/app')).status).toBe(302)
    expect(await rowsPerTable()).toEqual(before)
  })

  it('sends a return_to too long for the flow cookie to / instead', async () => {
    const response = await signIn(f, jar, 'demo', 'bob', `/${'é'.repeat(1500)}`)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/')
  })

  it('refuses a code swapped in from another sign-in', async () => {
    const before = await countRows(db.sql)
    const mine = new URL(await startAndAuthenticate(f, jar, 'demo', 'ivan'))
    const theirs = new URL(await startAndAuthenticate(f, new CookieJar(), 'demo', 'ivan'))
    mine.searchParams.set('code', theirs.searchParams.get('code')!)
    const response = await browse(f, jar, mine.href)
    expect(response.status).toBe(400)
    await expectNothingWritten(before)
  })

  it('refuses an ID token whose nonce does not match the flow', async () => {
    const before = await countRows(db.sql)
    const callback = await startAndAuthenticate(f, jar, 'demo', 'ivan')
    const state = new URL(callback).searchParams.get('state')!
    // Reseal the flow cookie with the nonce of another flow (only central's key could do this).
    const otherJar = new CookieJar()
    const otherCallback = await startAndAuthenticate(f, otherJar, 'demo', 'ivan')
    const secret = federationSettingsFrom(f.config).keyEncryptionSecret
    const now = f.clock()
    const own = openPendingFlow(secret, jar.get('portcullis_flow'), { providerId: 'demo', state, now })!
    const other = openPendingFlow(secret, otherJar.get('portcullis_flow'), { providerId: 'demo', state: new URL(otherCallback).searchParams.get('state')!, now })!
    const tampered = sealPendingFlow(secret, { ...own, nonce: other.nonce })
    const response = await f.request(new URL(callback).pathname + new URL(callback).search, { headers: { cookie: `portcullis_flow=${tampered}` } })
    expect(response.status).toBe(400)
    await expectNothingWritten(before)
  })

  it('refuses an ID token from another issuer (a code from a second provider instance)', async () => {
    const before = await countRows(db.sql)
    const start = await browse(f, jar, '/auth/sign-in/demo?return_to=/app')
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!
    // The same person signs in at the other provider (same client id, same redirect URI) ...
    const otherStart = await browse(f, new CookieJar(), '/auth/sign-in/other')
    const otherCallback = new URL(await signInAtProvider(new CookieJar(), otherStart.headers.get('location')!, 'ivan'))
    // ... and that provider's code and iss arrive with the demo flow's state.
    const forged = new URL(`${CENTRAL}/auth/callback/demo`)
    forged.search = new URLSearchParams({ code: otherCallback.searchParams.get('code')!, state, iss: otherCallback.searchParams.get('iss') ?? otherUpstream.issuer }).toString()
    const response = await browse(f, jar, forged.href)
    expect(response.status).toBe(400)
    await expectNothingWritten(before)
  })

  it('refuses an ID token that has expired by central\'s clock', async () => {
    const before = await countRows(db.sql)
    f.clock.advance(2 * 3600)
    try {
      const response = await signIn(f, jar, 'demo', 'ivan')
      expect(response.status).toBe(400)
    } finally {
      f.clock.advance(-2 * 3600)
    }
    await expectNothingWritten(before)
  })

  it('refuses an unverified email when the provider requires verified ones', async () => {
    const before = await countRows(db.sql)
    const response = await signIn(f, jar, 'demo', 'carol')
    expect(response.status).toBe(403)
    expect(await response.text()).toContain('not verified')
    await expectNothingWritten(before)
  })

  it('refuses an email outside allowed_email_domains', async () => {
    const before = await countRows(db.sql)
    const response = await signIn(f, jar, 'domain', 'dave')
    expect(response.status).toBe(403)
    await expectNothingWritten(before)
  })

  it('refuses a person without a portcullis user when require_existing_user is set', async () => {
    const before = await countRows(db.sql)
    const response = await signIn(f, jar, 'existing', 'gina')
    expect(response.status).toBe(403)
    await expectNothingWritten(before)
  })

  it('links to an existing user by email only when the provider verified it', async () => {
    const erin = await insertTestUser(db.sql, { username: 'erin@example.com' })
    const frank = await insertTestUser(db.sql, { username: 'frank@example.com', password: 'frank-password-1' })
    expect((await signIn(f, jar, 'linking', 'erin')).status).toBe(302)
    expect(decodeJwt(jar.get('portcullis_at')!).sub).toBe(erin.id)
    const other = new CookieJar()
    expect((await signIn(f, other, 'linking', 'frank')).status).toBe(302)
    const frankSub = decodeJwt(other.get('portcullis_at')!).sub
    expect(frankSub).not.toBe(frank.id)
    const [created] = await db.sql<{ username: string }[]>`select username from users where id = ${frankSub!}`
    expect(created!.username).toBe('linking.frank')
  })

  describe('refuses to link by email', () => {
    async function expectLinkRefused(login: string, why: string) {
      const before = await countRows(db.sql)
      const response = await signIn(f, jar, 'linking', login)
      expect(response.status).toBe(403)
      expect(await response.text()).toContain(why)
      await expectNothingWritten(before)
    }

    it('a user with a password', async () => {
      await insertTestUser(db.sql, { username: 'liam@example.com', password: 'liam-password-1' })
      await expectLinkRefused('liam', 'has a password')
    })

    it('an administrator', async () => {
      await insertTestUser(db.sql, { username: 'mona@example.com', roles: ['portcullis:admin'] })
      await expectLinkRefused('mona', 'is an administrator')
    })

    it('a user linked to another identity at the same issuer', async () => {
      const nina = await insertTestUser(db.sql, { username: 'nina@example.com' })
      await db.sql`insert into identity_links (issuer, subject, user_id, provider_id, created_at, last_used_at)
                   values (${upstream.issuer}, 'someone-else', ${nina.id}, 'demo', now(), now())`
      await expectLinkRefused('nina', 'linked to another identity at this provider')
    })

    it('a user another provider created just in time', async () => {
      const oscar = await insertTestUser(db.sql, { username: 'oscar@example.com' })
      await db.sql`update users set created_by_provider = 'other' where id = ${oscar.id}`
      await expectLinkRefused('oscar', 'was created by another provider')
    })
  })

  it('records which provider created a user just in time', async () => {
    await signIn(f, jar, 'demo', 'bob')
    const [row] = await db.sql`select created_by_provider from users where id = ${decodeJwt(jar.get('portcullis_at')!).sub!}`
    expect(row).toEqual({ created_by_provider: 'demo' })
  })

  it('leaves one user and one link when two first sign-ins of the same person race', async () => {
    const [first, second] = [new CookieJar(), new CookieJar()]
    const callbacks = [await startAndAuthenticate(f, first, 'demo', 'jack'), await startAndAuthenticate(f, second, 'demo', 'jack')]
    // Both callbacks reach their writes before either commits: one creates jack@example.com and
    // links it, the other finds the name taken, creates jack@example.com-2 and then loses the link.
    const lock = holdRowLock(db.url, async (tx) => await tx`lock table identity_links in exclusive mode`)
    await lock.locked
    const responses = Promise.all([browse(f, first, callbacks[0]!), browse(f, second, callbacks[1]!)])
    await expect.poll(async () => await lockWaiters(), { timeout: 10_000 }).toBe(2)
    lock.release()
    await lock.done
    expect((await responses).map((r) => r.status)).toEqual([302, 302])
    expect(decodeJwt(first.get('portcullis_at')!).sub).toBe(decodeJwt(second.get('portcullis_at')!).sub)
    const users = await db.sql`select username from users where username like 'jack@%'`
    expect(users).toEqual([{ username: 'jack@example.com' }])
    const links = await db.sql`select 1 from identity_links where subject = 'jack'`
    expect(links).toHaveLength(1)
  })

  it('starts no session when its provider record cannot be written (a back-channel logout could not find it)', async () => {
    expect((await signIn(f, jar, 'demo', 'kate')).status).toBe(302)
    const userId = decodeJwt(jar.get('portcullis_at')!).sub!
    await db.sql`create function refuse_kate() returns trigger language plpgsql as $$ begin raise exception 'refused for the test'; end $$`
    await db.sql`create trigger refuse_kate before insert on federated_sessions for each row when (new.subject = 'kate') execute function refuse_kate()`
    try {
      const response = await signIn(f, new CookieJar(), 'demo', 'kate')
      expect(response.status).toBe(500)
    } finally {
      await db.sql`drop trigger refuse_kate on federated_sessions`
      await db.sql`drop function refuse_kate()`
    }
    const live = await db.sql`select id from sessions where user_id = ${userId} and revoked_at is null`
    expect(live).toHaveLength(1)
  })

  it('answers 502 when the provider cannot be reached', async () => {
    const response = await browse(f, jar, '/auth/sign-in/down?return_to=/app')
    expect(response.status).toBe(502)
    expect(jar.get('portcullis_flow')).toBeUndefined()
  })

  it('answers 504 when the provider does not answer in time', async () => {
    const response = await browse(f, jar, '/auth/sign-in/slow?return_to=/app')
    expect(response.status).toBe(504)
  })

  it('answers 404 for an unknown provider', async () => {
    expect((await browse(f, jar, '/auth/sign-in/nobody')).status).toBe(404)
    expect((await browse(f, jar, '/auth/callback/nobody?state=x&code=y')).status).toBe(404)
  })

  it.each(['https://evil.example/steal', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)'])('sends return_to %s to / instead', async (returnTo) => {
    const response = await signIn(f, jar, 'demo', 'bob', returnTo)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/')
  })

  it('keeps an absolute return_to on an allowed origin', async () => {
    const response = await signIn(f, jar, 'demo', 'bob', 'https://app.example.test/dashboard')
    expect(response.headers.get('location')).toBe('https://app.example.test/dashboard')
  })
})
