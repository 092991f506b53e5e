import { Conflict, InvalidRequest } from '../../../shared/errors'
import type { AppDeps } from '../../app-deps'
import { ClientIdSchema, CreateClientBodySchema, toNewClient } from '../../clients/client-schema'
import { createClient, deleteClient, disableClient, listClients, rotateClientSecret, updateClient } from '../../clients/store'
import { ClientsPage } from '../../console/clients-page'
import { confirmFirst } from './confirm-first'
import { actorOf, createConsoleRouter, layoutAdmin, revocationBoundText, type ConsoleContext } from './console-env'
import { ConsolePageError } from './console-errors'

const doneNotices = (bound: string): Record<string, string> => ({
  disabled: `Client disabled: it can no longer get tokens, and the edge refuses its tokens within ${bound}.`,
  enabled: 'Client enabled. Tokens revoked while it was disabled stay revoked.',
  deleted: `Client deleted: it stops authenticating, and the edge refuses its tokens within ${bound}.`,
})

/** The registration form as the admin API's body: lists are space-separated, checkboxes present or not. */
function createBodyFrom(form: Record<string, string | File | (string | File)[]>): unknown {
  const text = (name: string) => (typeof form[name] === 'string' ? (form[name] as string).trim() : '')
  const list = (name: string) => text(name).split(/\s+/).filter(Boolean)
  const grants = form['grant_types[]'] ?? form.grant_types
  let jwks: unknown
  if (text('jwks') !== '') {
    try {
      jwks = JSON.parse(text('jwks'))
    } catch {
      throw new InvalidRequest('jwks: not valid JSON')
    }
  }
  return {
    client_id: text('client_id'),
    token_endpoint_auth_method: text('token_endpoint_auth_method'),
    grant_types: (Array.isArray(grants) ? grants : grants === undefined ? [] : [grants]).filter((g) => typeof g === 'string'),
    audiences: list('audiences'),
    scopes: list('scopes'),
    roles: list('roles'),
    ...(text('jwks_uri') ? { jwks_uri: text('jwks_uri') } : {}),
    ...(jwks === undefined ? {} : { jwks }),
    require_dpop: form.require_dpop === '1',
  }
}

/** The client id in the path, or the console's 404 page. */
function clientIdParam(c: ConsoleContext): string {
  const parsed = ClientIdSchema.safeParse(c.req.param('clientId'))
  if (!parsed.success) throw new ConsolePageError(404, 'No such client', 'There is no client with this id.')
  return parsed.data
}

/**
 * `/console/clients`: the OAuth clients, registering one (its secret shown once), rotating a
 * secret, disabling, enabling and deleting. Changes that revoke tokens are confirmed first.
 */
export function consoleClientRoutes({ sql, config, clock }: AppDeps) {
  const router = createConsoleRouter()
  const bound = revocationBoundText(config)
  const notices = doneNotices(bound)
  const page = async (c: ConsoleContext, extra: { secret?: { clientId: string; value: string }; notice?: string; error?: string }, status: 200 | 400 | 409 = 200) =>
    c.html(<ClientsPage admin={layoutAdmin(c)} clients={await listClients(sql)} {...extra} />, status)
  const notFound = () => new ConsolePageError(404, 'No such client', 'There is no client with this id.')

  router.get('/console/clients', async (c) => page(c, { notice: notices[c.req.query('done') ?? ''] }))

  router.post('/console/clients', async (c) => {
    const form = await c.req.parseBody({ all: true })
    let body
    try {
      const parsed = CreateClientBodySchema.safeParse(createBodyFrom(form))
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        throw new InvalidRequest(`${issue?.path.join('.') || 'form'}: ${issue?.message ?? 'invalid'}`)
      }
      body = parsed.data
      const { client, secret } = await createClient(sql, { ...toNewClient(body), actor: actorOf(c), now: clock() })
      // Answered with the page itself, not a redirect: the secret must never travel in a URL.
      return page(c, { notice: `Client ${client.clientId} registered.`, secret: secret === null ? undefined : { clientId: client.clientId, value: secret } })
    } catch (error) {
      if (error instanceof InvalidRequest) return page(c, { error: `Not registered: ${error.message}` }, 400)
      if (error instanceof Conflict) return page(c, { error: `Not registered: ${error.message}` }, 409)
      throw error
    }
  })

  router.post('/console/clients/:clientId/rotate-secret', async (c) => {
    const clientId = clientIdParam(c)
    const confirm = await confirmFirst(c, {
      title: `Rotate the secret of ${clientId}?`,
      text: `The current secret stops working now, and every access token the client holds is refused at the edge within ${bound}. The new secret is shown once.`,
      confirmLabel: 'Rotate secret',
      cancelHref: '/console/clients',
      section: 'clients',
    })
    if (confirm) return confirm
    try {
      const rotated = await rotateClientSecret(sql, { clientId, actor: actorOf(c), now: clock(), clock })
      if (!rotated) throw notFound()
      return page(c, { notice: `New secret for ${clientId}.`, secret: { clientId, value: rotated.secret } })
    } catch (error) {
      if (error instanceof InvalidRequest) return page(c, { error: error.message }, 400)
      throw error
    }
  })

  router.post('/console/clients/:clientId/disable', async (c) => {
    const clientId = clientIdParam(c)
    const confirm = await confirmFirst(c, {
      title: `Disable ${clientId}?`,
      text: `It can no longer get tokens, and every access token it holds is refused at the edge within ${bound}.`,
      confirmLabel: 'Disable client',
      cancelHref: '/console/clients',
      section: 'clients',
    })
    if (confirm) return confirm
    if (!(await disableClient(sql, { clientId, actor: actorOf(c), now: clock(), clock }))) throw notFound()
    return c.redirect('/console/clients?done=disabled', 303)
  })

  router.post('/console/clients/:clientId/enable', async (c) => {
    const clientId = clientIdParam(c)
    if (!(await updateClient(sql, { clientId, patch: { enabled: true }, actor: actorOf(c), now: clock(), clock }))) throw notFound()
    return c.redirect('/console/clients?done=enabled', 303)
  })

  router.post('/console/clients/:clientId/delete', async (c) => {
    const clientId = clientIdParam(c)
    const confirm = await confirmFirst(c, {
      title: `Delete ${clientId}?`,
      text: `It stops authenticating and leaves this list, and every access token it holds is refused at the edge within ${bound}. Its id stays taken until those tokens have expired.`,
      confirmLabel: 'Delete client',
      cancelHref: '/console/clients',
      section: 'clients',
    })
    if (confirm) return confirm
    if (!(await deleteClient(sql, { clientId, actor: actorOf(c), now: clock(), clock }))) throw notFound()
    return c.redirect('/console/clients?done=deleted', 303)
  })

  return router
}

