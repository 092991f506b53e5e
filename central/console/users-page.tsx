import { formatInstant, formatList } from './format'
import { Layout, StateBadge, userPath, type LayoutProps } from './layout'
import type { UserRecord } from '../users/user-record'

/** Search users by username prefix. */
export function UsersPage({ admin, prefix, users }: { admin: LayoutProps['admin']; prefix: string; users: UserRecord[] }) {
  return (
    <Layout title="Users" admin={admin} section="users">
      <h1>Users</h1>
      <form method="get" action="/console/users" class="panel row" role="search">
        <div>
          <label for="q">Username starts with</label>
          <input id="q" name="q" type="search" value={prefix} autofocus />
        </div>
        <button class="primary" type="submit">
          Search
        </button>
      </form>
      {users.length === 0 ? (
        <p>No users match.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="skip">Users whose username starts with “{prefix}”</caption>
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">State</th>
                <th scope="col">Roles</th>
                <th scope="col">Audiences</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <tr>
                  <td>
                    <a href={userPath(user.username)}>{user.username}</a>
                  </td>
                  <td>
                    <StateBadge state={user.enabled ? 'enabled' : 'disabled'} />
                  </td>
                  <td>{formatList(user.roles)}</td>
                  <td>{formatList(user.audiences)}</td>
                  <td>{formatInstant(user.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  )
}
