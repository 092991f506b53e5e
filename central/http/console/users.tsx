import { ADMIN_ROLE } from '../../../shared/access-token-claims'
import type { Config } from '../../config'
import { listAuditEvents } from '../../audit/store'
import { userPath } from '../../console/layout'
import { UserPage } from '../../console/user-page'
import { UsersPage } from '../../console/users-page'
import type { AppDeps } from '../../app-deps'
import { findProvidersOfSessions, listLinkedIdentities, unlinkIdentity } from '../../federation/linked-identities'
import { findSession, listUserSessions, revokeAllUserSessions, revokeSession } from '../../sessions/store'
import { changeUser } from '../../users/change-user'
import { GRANT_PARTS } from '../../users/grant-change'
import { findUserByUsername, searchUsersByPrefix } from '../../users/store'
import { loginFailuresOf, unlockUser } from '../../users/unlock-user'
import { TokenCharsSchema } from '../wire-schemas'
import { confirmFirst } from './confirm-first'
import { actorOf, createConsoleRouter, layoutAdmin, revocationBoundText, UUID, type ConsoleContext } from './console-env'
import { ConsolePageError } from './console-errors'

const NO_SUCH_USER = new ConsolePageError(404, 'No such user', 'No user has this username.')

type GrantPart = (typeof GRANT_PARTS)[number]

/**
 * `/console/users`: find users, see one with their sessions and linked identities; revoke sessions,
 * disable or enable, add and remove grants, clear failed sign-ins, unlink an identity. Every destructive action asks for confirmation
 * first (confirmFirst).
 */
export function consoleUserRoutes({ sql, config, clock }: AppDeps) {
  const router = createConsoleRouter()

  router.get('/console/users', async (c) => {
    const prefix = (c.req.query('q') ?? '').slice(0, 200)
    const users = await searchUsersByPrefix(sql, prefix, 50)
    return c.html(<UsersPage admin={layoutAdmin(c)} prefix={prefix} users={users} />)
  })

  router.get('/console/users/:username', async (c) => {
    const user = await findUserByUsername(sql, c.req.param('username'))
    if (!user) throw NO_SUCH_USER
    const now = clock()
    const [sessions, identities, [lastLogoutAll], loginFailures] = await Promise.all([
      listUserSessions(sql, user.id, now),
      listLinkedIdentities(sql, user.id),
      // "Logged out everywhere" is the last revoke-all, not `not_before`: removing a grant moves that marker too.
      listAuditEvents(sql, { userId: user.id, type: 'user.sessions_revoked', limit: 1 }),
      loginFailuresOf(sql, user.username, { windowSeconds: config.LOGIN_THROTTLE_WINDOW_SECONDS, now }),
    ])
    const sessionProviders = await findProvidersOfSessions(sql, sessions.map((s) => s.id))
    return c.html(
      <UserPage
        admin={layoutAdmin(c)}
        user={user}
        sessions={sessions}
        sessionProviders={sessionProviders}
        identities={identities}
        lastLogoutAll={lastLogoutAll && { at: lastLogoutAll.at, reason: lastLogoutAll.reason }}
        loginFailures={loginFailures}
        notice={noticeFor(c.req.query('done'), c.req.query(), config)}
      />,
    )
  })

  router.post('/console/users/:username/sessions/:sessionId/revoke', async (c) => {
    const username = c.req.param('username')
    const sessionId = c.req.param('sessionId')
    const user = await findUserByUsername(sql, username)
    if (!user || !UUID.test(sessionId)) throw NO_SUCH_SESSION
    // Another user's session is not found through this user's page, before any confirmation.
    if ((await findSession(sql, sessionId, clock()))?.userId !== user.id) throw NO_SUCH_SESSION
    const confirm = await confirmFirst(c, {
      title: 'Revoke this session?',
      text: `Session ${sessionId.slice(0, 8)} of ${username} ends now: its refresh token stops working and edges reject its access tokens within ${revocationBoundText(config)}. The user must sign in again on that device.`,
      confirmLabel: 'Revoke session',
      cancelHref: userPath(username),
      section: 'users',
    })
    if (confirm) return confirm
    const result = await revokeSession(sql, { sessionId, userId: user.id, actor: actorOf(c), reason: 'revoked in console', now: clock() })
    if (result === 'not_found') throw NO_SUCH_SESSION
    return c.redirect(`${userPath(username)}?done=revoked&session=${sessionId}`, 303)
  })

  router.post('/console/users/:username/sessions/revoke-all', async (c) => {
    const username = c.req.param('username')
    const user = await findUserByUsername(sql, username)
    if (!user) throw NO_SUCH_USER
    const confirm = await confirmFirst(c, {
      title: `Revoke every session of ${username}?`,
      text: `Every session of ${username} ends now ("log out everywhere"): on every device they must sign in again, and edges reject every access token issued before now within ${revocationBoundText(config)}.`,
      confirmLabel: 'Revoke all sessions',
      cancelHref: userPath(username),
      section: 'users',
    })
    if (confirm) return confirm
    const count = await revokeAllUserSessions(sql, { userId: user.id, actor: actorOf(c), reason: 'revoked in console', now: clock() })
    return c.redirect(`${userPath(username)}?done=revoked-all&count=${count}`, 303)
  })

  router.post('/console/users/:username/disable', async (c) => {
    const username = c.req.param('username')
    refuseOwnConsoleAccess(c, username)
    if (!(await findUserByUsername(sql, username))) throw NO_SUCH_USER
    const confirm = await confirmFirst(c, {
      title: `Disable ${username}?`,
      text: `${username} can no longer sign in, and every session they hold is revoked now; edges reject their access tokens within ${revocationBoundText(config)}. Enabling them again later does not bring the sessions back.`,
      confirmLabel: 'Disable user',
      cancelHref: userPath(username),
      section: 'users',
    })
    if (confirm) return confirm
    const result = await changeUser(sql, { username, patch: { enabled: false }, actor: actorOf(c), clock })
    if (!result) throw NO_SUCH_USER
    return c.redirect(`${userPath(username)}?done=disabled&count=${result.sessionsRevoked}`, 303)
  })

  router.post('/console/users/:username/enable', async (c) => {
    const username = c.req.param('username')
    const result = await changeUser(sql, { username, patch: { enabled: true }, actor: actorOf(c), clock })
    if (!result) throw NO_SUCH_USER
    return c.redirect(`${userPath(username)}?done=enabled`, 303)
  })

  // Adding widens nothing already issued (it applies from the next sign-in), so it needs no confirmation.
  router.post('/console/users/:username/grants/add', async (c) => {
    const username = c.req.param('username')
    const { part, value } = grantFromForm(await c.req.parseBody())
    const result = await changeUser(sql, { username, patch: { grantChange: { kind: 'edit', add: { [part]: [value] }, remove: {} } }, actor: actorOf(c), clock })
    if (!result) throw NO_SUCH_USER
    return c.redirect(`${userPath(username)}?done=${result.grantDiff.added[part].length ? 'granted' : 'already-held'}`, 303)
  })

  router.post('/console/users/:username/grants/remove', async (c) => {
    const username = c.req.param('username')
    const { part, value } = grantFromForm(await c.req.parseBody())
    if (part === 'roles' && value === ADMIN_ROLE) refuseOwnConsoleAccess(c, username)
    if (!(await findUserByUsername(sql, username))) throw NO_SUCH_USER
    const confirm = await confirmFirst(c, {
      title: `Remove ${PART_NAMES[part]} “${value}” from ${username}?`,
      text: `${username} loses ${PART_NAMES[part]} “${value}”: live sessions lose it at once, and edges reject access tokens that still carry it within ${revocationBoundText(config)} (clients refresh into narrower ones). Every other grant stays.`,
      confirmLabel: `Remove ${PART_NAMES[part]}`,
      cancelHref: userPath(username),
      section: 'users',
    })
    if (confirm) return confirm
    const result = await changeUser(sql, { username, patch: { grantChange: { kind: 'edit', add: {}, remove: { [part]: [value] } } }, actor: actorOf(c), clock })
    if (!result) throw NO_SUCH_USER
    const removed = result.grantDiff.removed[part].length > 0
    return c.redirect(`${userPath(username)}?done=${removed ? 'grant-removed' : 'not-held'}&count=${result.sessionsNarrowed}`, 303)
  })

  router.post('/console/users/:username/identities/unlink', async (c) => {
    const username = c.req.param('username')
    const form = await c.req.parseBody()
    const issuer = typeof form.issuer === 'string' ? form.issuer : ''
    const subject = typeof form.subject === 'string' ? form.subject : ''
    const user = await findUserByUsername(sql, username)
    if (!user) throw NO_SUCH_USER
    // An identity of another user is not found through this user's page, before any confirmation.
    const identity = (await listLinkedIdentities(sql, user.id)).find((i) => i.issuer === issuer && i.subject === subject)
    if (!identity) throw NO_SUCH_IDENTITY
    const confirm = await confirmFirst(c, {
      title: `Unlink ${identity.email ?? identity.subject} (${identity.providerId}) from ${username}?`,
      text: `Signing in through ${identity.providerId} as ${identity.email ?? identity.subject} no longer reaches ${username}: the next such sign-in counts as a first one, and the provider's rules decide (a new user, a link by email, or a refusal). Sessions ${username} already holds stay; revoke them separately if needed.`,
      confirmLabel: 'Unlink identity',
      cancelHref: userPath(username),
      section: 'users',
    })
    if (confirm) return confirm
    if (!(await unlinkIdentity(sql, { userId: user.id, issuer, subject, actor: actorOf(c), now: clock() }))) throw NO_SUCH_IDENTITY
    return c.redirect(`${userPath(username)}?done=unlinked`, 303)
  })

  router.post('/console/users/:username/unlock', async (c) => {
    const username = c.req.param('username')
    if (!(await findUserByUsername(sql, username))) throw NO_SUCH_USER
    const confirm = await confirmFirst(c, {
      title: `Clear the failed sign-ins of ${username}?`,
      text: `The failed sign-ins counted against ${username} (from every address) are cleared, so they can sign in again at once. If someone is guessing their password, the guessing can start again: consider a new password too.`,
      confirmLabel: 'Unlock user',
      cancelHref: userPath(username),
      section: 'users',
    })
    if (confirm) return confirm
    const result = await unlockUser(sql, { username, actor: actorOf(c), now: clock() })
    if (!result) throw NO_SUCH_USER
    return c.redirect(`${userPath(username)}?done=unlocked&count=${result.cleared}`, 303)
  })

  return router
}

const NO_SUCH_SESSION = new ConsolePageError(404, 'No such session', 'This user has no session with this id.')
const NO_SUCH_IDENTITY = new ConsolePageError(404, 'No such identity', 'This user has no linked identity with this issuer and subject.')

const PART_NAMES: Record<GrantPart, string> = { audiences: 'audience', scopes: 'scope', roles: 'role' }

/** The grant list and value a console grant form names, checked as the admin API checks them. */
function grantFromForm(form: Record<string, unknown>): { part: GrantPart; value: string } {
  const part = GRANT_PARTS.find((p) => p === form.part)
  const value = typeof form.value === 'string' ? form.value.trim() : ''
  if (!part || !TokenCharsSchema.safeParse(value).success) {
    throw new ConsolePageError(400, 'Grant not changed', 'Choose audience, scope or role, and a value of 1–200 printable characters without spaces, quotes or backslashes.')
  }
  return { part, value }
}

/**
 * An admin cannot take their own console access in the console (disable themselves, drop their
 * own portcullis:admin): one slip would sign them out for good. Another admin, or the admin API, can.
 */
function refuseOwnConsoleAccess(c: ConsoleContext, username: string): void {
  if (c.get('admin').username !== username) return
  throw new ConsolePageError(409, 'Not on your own account', 'You cannot disable yourself or remove your own portcullis:admin role here: ask another admin, or use the admin API.')
}

/** The message after a post-redirect-get; built here from known codes, never echoed from the URL. */
function noticeFor(done: string | undefined, query: Record<string, string>, config: Config): string | undefined {
  const bound = revocationBoundText(config)
  const enforced = `Its refresh token is dead now; edges reject its access tokens within ${bound}.`
  const count = /^\d+$/.test(query.count ?? '') ? Number(query.count) : 0
  switch (done) {
    case 'revoked':
      return `Session ${UUID.test(query.session ?? '') ? query.session!.slice(0, 8) : ''} revoked. ${enforced}`
    case 'revoked-all':
      return `Revoked ${count} session(s). Refresh tokens are dead now; edges reject every access token issued before now within ${bound}.`
    case 'disabled':
      return `User disabled and ${count} session(s) revoked. Edges reject their access tokens within ${bound}.`
    case 'enabled':
      return 'User enabled. They can sign in again.'
    case 'granted':
      return 'Grant added. It applies from their next sign-in; sessions already started keep what they hold.'
    case 'already-held':
      return 'Nothing to add: the user already holds this grant.'
    case 'grant-removed':
      return `Grant removed; ${count} live session(s) lost it. Edges reject access tokens that still carry it within ${bound}.`
    case 'not-held':
      return 'Nothing to remove: the user does not hold this grant.'
    case 'unlinked':
      return 'Identity unlinked. Its next sign-in counts as a first one; sessions the user holds stay.'
    case 'unlocked':
      return count ? `Failed sign-ins cleared (${count} counter(s)). The user can sign in again now.` : 'There were no failed sign-ins to clear.'
    default:
      return undefined
  }
}
