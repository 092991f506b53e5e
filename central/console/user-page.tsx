import type { LinkedIdentity } from '../federation/linked-identities'
import type { SessionView } from '../sessions/session-record'
import type { LoginFailures } from '../users/store'
import type { UserRecord } from '../users/user-record'
import { formatInstant, formatList } from './format'
import { CsrfField, Layout, Notice, StateBadge, userPath, type LayoutProps } from './layout'

export interface UserPageProps {
  admin: NonNullable<LayoutProps['admin']>
  user: UserRecord
  sessions: SessionView[]
  /** The provider each session came from (absent: password or admin-started). */
  sessionProviders: ReadonlyMap<string, string>
  /** Upstream provider identities that sign in as this user. */
  identities: LinkedIdentity[]
  /** The last time every session of the user was revoked (log out everywhere, disable, new password). */
  lastLogoutAll?: { at: Date; reason: string | null }
  /** Failed sign-ins counted against the username in the current throttle window. */
  loginFailures: LoginFailures
  notice?: string
  error?: string
}

const GRANT_LISTS = [
  ['audiences', 'Audiences', 'audience'],
  ['scopes', 'Scopes', 'scope'],
  ['roles', 'Roles', 'role'],
] as const

/**
 * One user: grants (add; remove with confirmation), enabled flag (disable with confirmation,
 * enable), failed sign-ins (unlock with confirmation), linked identities (unlink with confirmation),
 * sessions with their provider, revoke and revoke all (both confirmed). Every destructive button leads to a confirmation page first.
 */
export function UserPage({ admin, user, sessions, sessionProviders, identities, lastLogoutAll, loginFailures, notice, error }: UserPageProps) {
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
          {GRANT_LISTS.map(([part, label, singular]) => (
            <>
              <dt>{label}</dt>
              <dd>
                {user[part].length === 0
                  ? formatList(user[part])
                  : user[part].map((value) => (
                      <form class="inline grant" method="post" action={`${base}/grants/remove`}>
                        <CsrfField token={admin.csrfToken} />
                        <input type="hidden" name="part" value={part} />
                        <input type="hidden" name="value" value={value} />
                        <span class="mono">{value}</span>{' '}
                        <button class="link-danger" type="submit" aria-label={`Remove ${singular} ${value}`} title={`Remove ${singular} ${value}`}>
                          ×
                        </button>{' '}
                      </form>
                    ))}
              </dd>
            </>
          ))}
          <dt>User id</dt>
          <dd class="mono">{user.id}</dd>
          <dt>Created</dt>
          <dd>{formatInstant(user.createdAt)}</dd>
          <dt>Logged out everywhere</dt>
          <dd>
            {formatInstant(lastLogoutAll?.at)}
            {lastLogoutAll?.reason && <span class="muted"> ({lastLogoutAll.reason})</span>}
          </dd>
          <dt>Tokens rejected if issued before</dt>
          <dd>
            {formatInstant(user.notBefore)}{' '}
            <span class="muted">(moves with log out everywhere and with every removed grant)</span>
          </dd>
          <dt>Failed sign-ins</dt>
          <dd>
            {loginFailures.total === 0 && loginFailures.addresses === 0
              ? 'none in the current window'
              : `${loginFailures.total} in the current window, from ${loginFailures.addresses} address(es)`}
          </dd>
        </dl>
        <form class="row grant-add" method="post" action={`${base}/grants/add`}>
          <CsrfField token={admin.csrfToken} />
          <div>
            <label for="grant-part">Add a grant</label>
            <select id="grant-part" name="part">
              {GRANT_LISTS.map(([part, , singular]) => (
                <option value={part}>{singular}</option>
              ))}
            </select>
          </div>
          <div>
            <label for="grant-value">Value</label>
            <input id="grant-value" name="value" type="text" required maxlength={200} placeholder="orders:read" />
          </div>
          <button class="primary" type="submit">
            Add
          </button>
        </form>
        <div class="row center">
          <form class="inline" method="post" action={`${base}/${user.enabled ? 'disable' : 'enable'}`}>
            <CsrfField token={admin.csrfToken} />
            <button class={user.enabled ? 'danger' : 'primary'} type="submit">
              {user.enabled ? 'Disable user (revokes every session)' : 'Enable user'}
            </button>
          </form>{' '}
          {(loginFailures.total > 0 || loginFailures.addresses > 0) && (
            <form class="inline" method="post" action={`${base}/unlock`}>
              <CsrfField token={admin.csrfToken} />
              <button class="danger" type="submit">
                Unlock (clear failed sign-ins)
              </button>
            </form>
          )}{' '}
          <a href={`/console/audit?user=${encodeURIComponent(user.username)}`}>Audit trail of {user.username}</a>
        </div>
      </section>
      <section aria-labelledby="identities-heading">
        <h2 id="identities-heading">Linked identities</h2>
        {identities.length === 0 ? (
          <p>No linked identities: {user.username} does not sign in through an upstream provider.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Provider</th>
                  <th scope="col">Issuer</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Email</th>
                  <th scope="col">Linked</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span class="skip">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {identities.map((identity) => (
                  <tr>
                    <td>{identity.providerId}</td>
                    <td class="mono">{identity.issuer}</td>
                    <td class="mono">{identity.subject}</td>
                    <td>{identity.email ?? '—'}</td>
                    <td>{formatInstant(identity.createdAt)}</td>
                    <td>{formatInstant(identity.lastUsedAt)}</td>
                    <td>
                      <form class="inline" method="post" action={`${base}/identities/unlink`}>
                        <CsrfField token={admin.csrfToken} />
                        <input type="hidden" name="issuer" value={identity.issuer} />
                        <input type="hidden" name="subject" value={identity.subject} />
                        <button class="danger" type="submit" aria-label={`Unlink ${identity.subject} at ${identity.providerId}`}>
                          Unlink
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
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
                  <th scope="col">Provider</th>
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
                    <td>{sessionProviders.get(s.id) ?? <span class="muted">password / admin</span>}</td>
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
