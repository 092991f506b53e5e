import { randomBytes, randomUUID } from 'node:crypto'
import type { Sql } from 'postgres'
import type { CentralTestApp } from '../../support/central-app'
import { insertSession } from '../../../central/sessions/store'

/** A minimal cookie jar over app.request: enough for the console's two cookies. */
export class ConsoleBrowser {
  readonly cookies = new Map<string, string>()
  constructor(
    readonly t: CentralTestApp,
    readonly origin = new URL(t.config.ISSUER).origin,
  ) {}

  async get(path: string): Promise<Response> {
    return this.store(await this.t.app.request(path, { headers: this.cookieHeader() }))
  }

  async post(path: string, form: Record<string, string>, headers: Record<string, string> = { Origin: this.origin }): Promise<Response> {
    return this.store(
      await this.t.app.request(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...this.cookieHeader(), ...headers },
        body: new URLSearchParams(form).toString(),
      }),
    )
  }

  /** GET a page and read the CSRF token out of its first form. */
  async csrfFrom(path: string): Promise<string> {
    const html = await (await this.get(path)).text()
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1]
    if (!token) throw new Error(`no CSRF field on ${path}`)
    return token
  }

  /**
   * A destructive action as an admin does it: the button's post answers with a confirmation page
   * (200, nothing done yet), whose form is then posted as the browser would.
   */
  async postConfirmed(path: string, form: Record<string, string>): Promise<{ confirmationPage: string; response: Response }> {
    const first = await this.post(path, form)
    const confirmationPage = await first.text()
    if (first.status !== 200) throw new Error(`expected a confirmation page from ${path}, got ${first.status}: ${confirmationPage.slice(0, 200)}`)
    const { action, fields } = confirmationForm(confirmationPage)
    return { confirmationPage, response: await this.post(action, fields) }
  }

  async signIn(username: string, password: string): Promise<Response> {
    const csrf = await this.csrfFrom('/console/sign-in')
    return this.post('/console/sign-in', { username, password, _csrf: csrf })
  }

  private cookieHeader(): Record<string, string> {
    return this.cookies.size ? { Cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}
  }

  private store(response: Response): Response {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq)
      const value = pair!.slice(eq + 1)
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return response
  }
}

/** A live session row for a user, as a login would leave it (tests of the console need not log in). */
export async function insertLiveSession(sql: Sql, userId: string, now: Date, userAgent = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0'): Promise<string> {
  // A variable, not a literal: the session id field is new to NewSession.
  const session = {
    id: randomUUID(),
    userId,
    clientId: 'web',
    audiences: ['https://api.example.test'],
    scopes: ['read'],
    roles: [],
    userAgent,
    ip: '203.0.113.7',
    now,
    idleExpiresAt: new Date(now.getTime() + 3600_000),
    absoluteExpiresAt: new Date(now.getTime() + 7200_000),
    tokenHash: randomBytes(32),
  }
  return insertSession(sql, session)
}

/** The form of a confirmation page: where it posts and its hidden fields (the CSRF token, `confirmed=1`, the action's own). */
export function confirmationForm(html: string): { action: string; fields: Record<string, string> } {
  const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html)
  if (!form) throw new Error('no confirmation form on the page')
  const fields: Record<string, string> = {}
  for (const [, name, value] of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) fields[decodeHtml(name!)] = decodeHtml(value!)
  return { action: decodeHtml(form[1]!), fields }
}

function decodeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, entity: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[entity]!)
}
