import type { ClientRecord } from '../clients/client-record'
import { formatInstant, formatList } from './format'
import { CsrfField, Layout, Notice, StateBadge, type LayoutProps } from './layout'

export interface ClientsPageProps {
  admin: NonNullable<LayoutProps['admin']>
  clients: ClientRecord[]
  /** A secret just generated (create, rotate): shown this once, never stored in clear. */
  secret?: { clientId: string; value: string }
  notice?: string
  error?: string
}

const clientPath = (clientId: string) => `/console/clients/${encodeURIComponent(clientId)}`

/** OAuth clients: the registry, registering one, rotating a secret, disabling, enabling, deleting. */
export function ClientsPage({ admin, clients, secret, notice, error }: ClientsPageProps) {
  return (
    <Layout title="Clients" admin={admin} section="clients">
      <h1>Clients</h1>
      <Notice text={notice} />
      <Notice kind="error" text={error} />
      {secret && (
        <div class="panel" role="status">
          <p>
            Secret of <span class="mono">{secret.clientId}</span>, shown this once (portcullis keeps only its hash):
          </p>
          <p>
            <output class="mono">{secret.value}</output>
          </p>
        </div>
      )}
      {clients.length === 0 ? (
        <p>No clients are registered. Unregistered client ids keep working for sign-in unless REQUIRE_REGISTERED_CLIENTS is set.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Client id</th>
                <th scope="col">State</th>
                <th scope="col">Authentication</th>
                <th scope="col">Grants</th>
                <th scope="col">Audiences</th>
                <th scope="col">Scopes</th>
                <th scope="col">DPoP</th>
                <th scope="col">Tokens before</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {clients.map((client) => (
                <tr>
                  <td class="mono">{client.clientId}</td>
                  <td>
                    <StateBadge state={client.enabled ? 'enabled' : 'disabled'} />
                  </td>
                  <td>{client.tokenEndpointAuthMethod}</td>
                  <td>{formatList(client.grantTypes)}</td>
                  <td>{formatList(client.audiences)}</td>
                  <td>{formatList(client.scopes)}</td>
                  <td>{client.requireDpop ? 'required' : 'optional'}</td>
                  <td>{formatInstant(client.notBefore)}</td>
                  <td>
                    {client.secretHash !== null && <ActionButton admin={admin} clientId={client.clientId} action="rotate-secret" label="Rotate secret" />}
                    {client.enabled ? (
                      <ActionButton admin={admin} clientId={client.clientId} action="disable" label="Disable" danger />
                    ) : (
                      <ActionButton admin={admin} clientId={client.clientId} action="enable" label="Enable" />
                    )}
                    <ActionButton admin={admin} clientId={client.clientId} action="delete" label="Delete" danger />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="panel" method="post" action="/console/clients">
        <h2>Register a client</h2>
        <CsrfField token={admin.csrfToken} />
        <div class="field">
          <label for="client-id">Client id</label>
          <input id="client-id" name="client_id" required pattern="[A-Za-z0-9][A-Za-z0-9._~\-]{0,127}" />
        </div>
        <div class="field">
          <label for="method">Authentication</label>
          <select id="method" name="token_endpoint_auth_method">
            <option value="client_secret_basic">client_secret_basic (generated secret)</option>
            <option value="client_secret_post">client_secret_post (generated secret)</option>
            <option value="private_key_jwt">private_key_jwt (the client's keys)</option>
            <option value="none">none (public client)</option>
          </select>
        </div>
        <fieldset class="field">
          <legend>Grant types</legend>
          {(['client_credentials', 'refresh_token', 'password'] as const).map((grant) => (
            <span>
              <input id={`grant-${grant}`} type="checkbox" name="grant_types" value={grant} checked={grant === 'client_credentials'} />{' '}
              <label for={`grant-${grant}`} class="inline-label">
                {grant}
              </label>{' '}
            </span>
          ))}
        </fieldset>
        <div class="field">
          <label for="audiences">Audiences (space-separated)</label>
          <input id="audiences" name="audiences" />
        </div>
        <div class="field">
          <label for="scopes">Scopes (space-separated)</label>
          <input id="scopes" name="scopes" />
        </div>
        <div class="field">
          <label for="roles">Roles (space-separated)</label>
          <input id="roles" name="roles" />
        </div>
        <div class="field">
          <label for="jwks-uri">JWKS URL (private_key_jwt)</label>
          <input id="jwks-uri" name="jwks_uri" type="url" />
        </div>
        <div class="field">
          <label for="jwks">Or the public JWK Set as JSON (private_key_jwt)</label>
          <textarea id="jwks" name="jwks" rows={3}></textarea>
        </div>
        <p>
          <input id="require-dpop" type="checkbox" name="require_dpop" value="1" />{' '}
          <label for="require-dpop" class="inline-label">
            Require DPoP (tokens bound to the client's key)
          </label>
        </p>
        <button class="primary" type="submit">
          Register
        </button>
      </form>
    </Layout>
  )
}

function ActionButton(props: { admin: NonNullable<LayoutProps['admin']>; clientId: string; action: string; label: string; danger?: boolean }) {
  return (
    <form class="inline" method="post" action={`${clientPath(props.clientId)}/${props.action}`}>
      <CsrfField token={props.admin.csrfToken} />
      <button class={props.danger ? 'danger' : undefined} type="submit">
        {props.label}
      </button>
    </form>
  )
}
