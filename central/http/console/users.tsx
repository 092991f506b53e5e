import type { Config } from '../../config'
import { userPath } from '../../console/layout'
import { UserPage } from '../../console/user-page'
import { UsersPage } from '../../console/users-page'
import type { AppDeps } from '../../app-deps'
import { listUserSessions, revokeAllUserSessions, revokeSession } from '../../sessions/store'
import { changeUser } from '../../users/change-user'
import { findUserByUsername, searchUsersByPrefix } from '../../users/store'
import { actorOf, createConsoleRouter, layoutAdmin, UUID } from './console-env'
import { ConsolePageError } from './console-errors'

const NO_SUCH_USER = new ConsolePageError(404, 'No such user', 'No user has this username.')

/** `/console/users`: find users, see one with their sessions, revoke sessions, disable or enable. */
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
    const sessions = await listUserSessions(sql, user.id, clock())
    const done = c.req.query('done')
    return c.html(<UserPage admin={layoutAdmin(c)} user={user} sessions={sessions} notice={noticeFor(done, c.req.query(), config)} />)
  })

  router.post('/console/users/:username/sessions/:sessionId/revoke', async (c) => {
    const username = c.req.param('username')
    const sessionId = c.req.param('sessionId')
    const user = await findUserByUsername(sql, username)
    const result = user && UUID.test(sessionId) ? await revokeSession(sql, { sessionId, userId: user.id, actor: actorOf(c), reason: 'revoked in console', now: clock() }) : 'not_found'
    if (result === 'not_found') throw new ConsolePageError(404, 'No such session', 'This user has no session with this id.')
    return c.redirect(`${userPath(username)}?done=revoked&session=${sessionId}`, 303)
  })

  router.post('/console/users/:username/sessions/revoke-all', async (c) => {
    const username = c.req.param('username')
    const user = await findUserByUsername(sql, username)
    if (!user) throw NO_SUCH_USER
    const count = await revokeAllUserSessions(sql, { userId: user.id, actor: actorOf(c), reason: 'revoked in console', now: clock() })
    return c.redirect(`${userPath(username)}?done=revoked-all&count=${count}`, 303)
  })

  for (const action of ['disable', 'enable'] as const) {
    router.post(`/console/users/:username/${action}`, async (c) => {
      const username = c.req.param('username')
      const result = await changeUser(sql, { username, patch: { enabled: action === 'enable' }, actor: actorOf(c), clock })
      if (!result) throw NO_SUCH_USER
      const query = action === 'disable' ? `done=disabled&count=${result.sessionsRevoked}` : 'done=enabled'
      return c.redirect(`${userPath(username)}?${query}`, 303)
    })
  }

  return router
}

/** The message after a post-redirect-get; built here from known codes, never echoed from the URL. */
function noticeFor(done: string | undefined, query: Record<string, string>, config: Config): string | undefined {
  const poll = `${config.REVOCATION_POLL_SECONDS} second${config.REVOCATION_POLL_SECONDS === 1 ? '' : 's'} (the revocation feed poll interval)`
  const enforced = `Its refresh token is dead now; edges reject its access tokens within ${poll}.`
  const count = /^\d+$/.test(query.count ?? '') ? Number(query.count) : 0
  switch (done) {
    case 'revoked':
      return `Session ${UUID.test(query.session ?? '') ? query.session!.slice(0, 8) : ''} revoked. ${enforced}`
    case 'revoked-all':
      return `Revoked ${count} session(s). Refresh tokens are dead now; edges reject every access token issued before now within ${poll}.`
    case 'disabled':
      return `User disabled and ${count} session(s) revoked. Edges reject their access tokens within ${poll}.`
    case 'enabled':
      return 'User enabled. They can sign in again.'
    default:
      return undefined
  }
}
