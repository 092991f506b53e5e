import type { AuditEvent, AuditEventType } from '../audit/audit-event'
import { formatInstant } from './format'
import { Layout, Notice, userPath, type LayoutProps } from './layout'

// A record over the union, so tsc fails here when a new event type is added but not offered.
const EVENT_TYPE_OPTIONS: Record<AuditEventType, true> = {
  'session.created': true,
  'session.refreshed': true,
  'session.reuse_detected': true,
  'session.revoked': true,
  'user.created': true,
  'user.updated': true,
  'user.disabled': true,
  'user.enabled': true,
  'user.sessions_revoked': true,
  'user.login_failed': true,
  'user.unlocked': true,
  'key.created': true,
  'key.activated': true,
  'key.retired': true,
  'key.unpublished': true,
  'console.sign_in': true,
  'console.sign_out': true,
  'client.created': true,
  'client.updated': true,
  'client.secret_rotated': true,
  'client.disabled': true,
  'client.enabled': true,
  'client.deleted': true,
  'client.tokens_revoked': true,
}

/** Every audit event type, for the filter's select and for validating `?type=`. */
export const AUDIT_EVENT_TYPES = Object.keys(EVENT_TYPE_OPTIONS) as AuditEventType[]

export interface AuditFilter {
  user: string
  session: string
  type: string
}

export interface AuditPageProps {
  admin: LayoutProps['admin']
  filter: AuditFilter
  events: AuditEvent[]
  /** Id to pass as `before` for the next (older) page, when there is one. */
  olderBefore?: string
  isFirstPage: boolean
  error?: string
}

/** The audit trail, newest first, filterable by user, session and type, keyset-paged. */
export function AuditPage({ admin, filter, events, olderBefore, isFirstPage, error }: AuditPageProps) {
  const query = (extra: Record<string, string>) => {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries({ ...filter, ...extra })) if (v) params.set(k, v)
    return `/console/audit?${params}`
  }
  return (
    <Layout title="Audit trail" admin={admin} section="audit">
      <h1>Audit trail</h1>
      <form method="get" action="/console/audit" class="panel row" role="search" aria-label="Filter the audit trail">
        <div>
          <label for="f-user">User</label>
          <input id="f-user" name="user" type="text" value={filter.user} placeholder="username" />
        </div>
        <div>
          <label for="f-session">Session</label>
          <input id="f-session" name="session" type="text" value={filter.session} placeholder="session id" />
        </div>
        <div>
          <label for="f-type">Event type</label>
          <select id="f-type" name="type">
            <option value="">any</option>
            {AUDIT_EVENT_TYPES.map((t) => (
              <option value={t} selected={t === filter.type}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <button class="primary" type="submit">
          Filter
        </button>
        <a href="/console/audit">Clear</a>
      </form>
      <Notice kind="error" text={error} />
      {events.length === 0 ? (
        <p>No events.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Actor</th>
                <th scope="col">User</th>
                <th scope="col">Session</th>
                <th scope="col">Reason</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => {
                const username = e.username
                return (
                  <tr>
                    <td>{formatInstant(e.at)}</td>
                    <td class="mono">{e.type}</td>
                    <td>{e.actor}</td>
                    <td>{username ? <a href={userPath(username)}>{username}</a> : e.userId ? <span class="mono">{e.userId.slice(0, 8)}</span> : '—'}</td>
                    <td class="mono">{e.sessionId ? <a href={query({ session: e.sessionId, before: '' })}>{e.sessionId.slice(0, 8)}</a> : '—'}</td>
                    <td>{e.reason ?? '—'}</td>
                    <td class="mono ua">{Object.keys(e.details ?? {}).length ? JSON.stringify(e.details) : '—'}</td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages">
        {!isFirstPage && <a href={query({})}>Newest</a>}
        {olderBefore && <a href={query({ before: olderBefore })}>Older events</a>}
      </nav>
    </Layout>
  )
}
