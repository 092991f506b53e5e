import type { SessionView } from '../sessions/session-record'
import type { UserRecord } from '../users/user-record'
import { formatInstant, formatList } from './format'
import { CsrfField, Layout, Notice, StateBadge, userPath, type LayoutProps } from './layout'

export interface UserPageProps {
  admin: NonNullable<LayoutProps['admin']>
  user: UserRecord
  sessions: SessionView[]
  notice?: string
  error?: string
}

/** One user: grants, enabled flag (disable/enable), sessions with revoke and revoke all. */
export function UserPage({ admin, user, sessions, notice, error }: UserPageProps) {
  const base = userPath(user.username)
  const active = sessions.filter((s) => s.state === 'active')
  return (
    <Layout title={user.username} admin={admin} section="users">
      <h1>
        User {user.username}{' '}
        <StateBadge state={user.enabled ? 'enabled' : 'disabled'} />
      </h1>
      <Notice text={notice} />
      <Notice kind="error" text={error} />
      <section class="panel" aria-labelledby="grants-heading">
        <h2 id="grants-heading">Grants</h2>
        <dl class="grants">
          <dt>Audiences</dt>
          <dd>{formatList(user.audiences)}</dd>
          <dt>Scopes</dt>
          <dd>{formatList(user.scopes)}</dd>
          <dt>Roles</dt>
          <dd>{formatList(user.roles)}</dd>
          <dt>User id</dt>
          <dd class="mono">{user.id}</dd>
          <dt>Created</dt>
          <dd>{formatInstant(user.createdAt)}</dd>
          <dt>Logged out everywhere</dt>
          <dd>{formatInstant(user.notBefore)}</dd>
        </dl>
        <div class="row center">
          <form class="inline" method="post" action={`${base}/${user.enabled ? 'disable' : 'enable'}`}>
            <CsrfField token={admin.csrfToken} />
            <button class={user.enabled ? 'danger' : 'primary'} type="submit">
              {user.enabled ? 'Disable user (revokes every session)' : 'Enable user'}
            </button>
          </form>{' '}
          <a href={`/console/audit?user=${encodeURIComponent(user.username)}`}>Audit trail of {user.username}</a>
        </div>
      </section>
      <section aria-labelledby="sessions-heading">
        <div class="row center">
          <h2 id="sessions-heading">
            Sessions <span class="muted">({active.length} active of {sessions.length})</span>
          </h2>
          {active.length > 0 && (
            <form class="inline" method="post" action={`${base}/sessions/revoke-all`}>
              <CsrfField token={admin.csrfToken} />
              <button class="danger solid" type="submit">
                Revoke all sessions
              </button>
            </form>
          )}
        </div>
        {sessions.length === 0 ? (
          <p>No sessions.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Session</th>
                  <th scope="col">State</th>
                  <th scope="col">Device / user agent</th>
                  <th scope="col">IP</th>
                  <th scope="col">Client</th>
                  <th scope="col">Audiences</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span class="skip">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {sessions.map((s) => (
                  <tr id={`session-${s.id}`}>
                    <td class="mono">
                      <a href={`/console/audit?session=${s.id}`} title="Audit trail of this session">
                        {s.id.slice(0, 8)}
                      </a>
                    </td>
                    <td>
                      <StateBadge state={s.state} />
                      {s.revokedReason && <div class="muted">{s.revokedReason}</div>}
                    </td>
                    <td class="ua">{s.userAgent ?? '—'}</td>
                    <td class="mono">{s.ip ?? '—'}</td>
                    <td>{s.clientId}</td>
                    <td>{formatList(s.audiences)}</td>
                    <td>{formatInstant(s.createdAt)}</td>
                    <td>{formatInstant(s.lastUsedAt)}</td>
                    <td>
                      {s.state === 'active' && (
                        <form class="inline" method="post" action={`${base}/sessions/${s.id}/revoke`}>
                          <CsrfField token={admin.csrfToken} />
                          <button class="danger" type="submit" aria-label={`Revoke session ${s.id.slice(0, 8)}`}>
                            Revoke
                          </button>
                        </form>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  )
}
