import type { SigningKeyView } from '../tokens/signing-keys'
import { formatInstant } from './format'
import { CsrfField, Layout, Notice, StateBadge, type LayoutProps } from './layout'

export interface KeysPageProps {
  admin: NonNullable<LayoutProps['admin']>
  keys: SigningKeyView[]
  publishAheadSeconds: number
  notice?: string
  error?: string
}

/** Signing keys (next, active, retired) with their dates, and rotate. */
export function KeysPage({ admin, keys, publishAheadSeconds, notice, error }: KeysPageProps) {
  return (
    <Layout title="Signing keys" admin={admin} section="keys">
      <h1>Signing keys</h1>
      <Notice text={notice} />
      <Notice kind="error" text={error} />
      <div class="panel row">
        <p>
          Rotating publishes a new key in the JWKS now; it starts signing after {publishAheadSeconds} seconds, once every edge
          has fetched it. The old key stays published until the tokens it signed have expired.
        </p>
        <form class="inline" method="post" action="/console/keys/rotate">
          <CsrfField token={admin.csrfToken} />
          <button class="primary" type="submit">
            Rotate signing key
          </button>
        </form>
      </div>
      <details class="panel">
        <summary>A private key leaked?</summary>
        <p>
          Emergency rotation signs with a new key now and retires the current one now. Its tokens keep verifying until they
          expire unless you also withdraw the earlier keys from the JWKS, which makes every access token they signed fail at once
          (sessions refresh onto the new key).
        </p>
        <form method="post" action="/console/keys/rotate">
          <CsrfField token={admin.csrfToken} />
          <input type="hidden" name="immediate" value="1" />
          <p>
            <input id="revoke-previous" type="checkbox" name="revokePrevious" value="1" />{' '}
            <label for="revoke-previous" class="inline-label">
              Also withdraw every earlier key now
            </label>
          </p>
          <button class="danger solid" type="submit">
            Rotate now
          </button>
        </form>
      </details>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Key id</th>
              <th scope="col">State</th>
              <th scope="col">Algorithm</th>
              <th scope="col">In JWKS</th>
              <th scope="col">Created</th>
              <th scope="col">Signs from</th>
              <th scope="col">Retired</th>
              <th scope="col">Unpublished at</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr>
                <td class="mono">{k.kid}</td>
                <td>
                  <StateBadge state={k.state} />
                </td>
                <td>{k.alg}</td>
                <td>{k.published ? 'yes' : 'no'}</td>
                <td>{formatInstant(k.createdAt)}</td>
                <td>{formatInstant(k.activatesAt)}</td>
                <td>{formatInstant(k.retiredAt)}</td>
                <td>{formatInstant(k.unpublishAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>
  )
}
