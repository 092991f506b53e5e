import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { html } from 'hono/html'
import { currentUserFromHeaders, type CurrentUser } from '../../shared/current-user'

/** Where the demo app's sign-out link goes: central ends the session (and the provider's), then back here. */
const SIGN_OUT_HREF = '/auth/sign-out?return_to=/app/'

/**
 * The demo API behind the local edge: an ordinary origin that never sees a token, only the
 * identity headers the edge sets after verifying one. `/api/*` answers JSON (an API route);
 * `/app/` is a page (a `browser: true` route: the edge sends a visitor without a session to sign in).
 */
export function createDemoOrigin() {
  const app = new Hono()
  app.get('/api/public/hello', (c) => c.json({ hello: 'anyone', note: 'public route: no token needed' }))
  app.all('/api/*', (c) => {
    const identity = identityHeaders(c.req.raw.headers)
    return c.json({ message: `hello ${identity['x-portcullis-sub'] ?? 'stranger'}`, path: c.req.path, identity })
  })
  app.get('/app', (c) => c.redirect('/app/', 301))
  app.get('/app/*', (c) => {
    c.header('Cache-Control', 'no-store')
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return c.html(demoPage(currentUserFromHeaders(c.req.raw.headers), identityHeaders(c.req.raw.headers)))
  })
  return app
}

function identityHeaders(headers: Headers): Record<string, string> {
  return Object.fromEntries([...headers].filter(([name]) => name.toLowerCase().startsWith('x-portcullis-')))
}

const list = (values: readonly string[]) => (values.length ? values.join(' ') : '(none)')

function demoPage(user: CurrentUser | null, headers: Record<string, string>) {
  const fields: [string, string][] = user
    ? [
        ['sub', user.sub],
        ['sid', user.sid],
        ['roles', list(user.roles)],
        ['scopes', list(user.scopes)],
        ['audiences', list(user.audiences)],
        ['clientId', user.clientId ?? '(none)'],
        ['jti', user.jti ?? '(none)'],
        ["can('orders:read')", String(user.can('orders:read'))],
        ["hasRole('engineer')", String(user.hasRole('engineer'))],
      ]
    : []
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Demo app · portcullis</title>
    <style>
      body { font: 15px/1.5 system-ui, sans-serif; color: #1d2733; background: #f5f7fa; margin: 0; }
      main { max-width: 760px; margin: 40px auto; padding: 0 20px; }
      section { background: #fff; border: 1px solid #d8dee6; border-radius: 8px; padding: 4px 20px 16px; margin-bottom: 20px; }
      table { border-collapse: collapse; width: 100%; }
      th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e8ecf1; vertical-align: top; }
      th { width: 34%; font-weight: 600; color: #4a5666; }
      td { font-family: ui-monospace, monospace; font-size: 13px; word-break: break-all; }
      a.button { display: inline-block; padding: 8px 14px; border-radius: 6px; background: #1f5fa8; color: #fff; text-decoration: none; font-weight: 600; }
      p.note { color: #4a5666; }
    </style>
  </head>
  <body>
    <main>
      <h1>Demo app</h1>
      <p class="note">
        This page is served by the demo origin behind the edge. It never sees a token: the edge verified the
        access-token cookie and sent who you are as <code>X-Portcullis-*</code> headers.
      </p>
      <p><a class="button" href="${SIGN_OUT_HREF}">Sign out</a></p>
      ${user
        ? html`<section aria-labelledby="current-user">
              <h2 id="current-user">CurrentUser</h2>
              <table>
                ${fields.map(([name, value]) => html`<tr data-field="${name}"><th scope="row">${name}</th><td>${value}</td></tr>`)}
              </table>
            </section>`
        : html`<section><h2>Nobody signed in</h2><p>No identity headers arrived (this route is not protected).</p></section>`}
      <section aria-labelledby="headers">
        <h2 id="headers">Identity headers received</h2>
        <table>
          ${Object.entries(headers).map(([name, value]) => html`<tr data-header="${name}"><th scope="row">${name}</th><td>${value}</td></tr>`)}
        </table>
      </section>
    </main>
  </body>
</html>`
}

export async function startDemoOrigin(port: number, hostname = '127.0.0.1'): Promise<{ url: string; stop(): Promise<void> }> {
  const server = serve({ fetch: createDemoOrigin().fetch, port, hostname }) as Server
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const address = server.address()
  const actualPort = typeof address === 'object' && address ? address.port : port
  return {
    url: `http://${hostname}:${actualPort}`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
