import { ConfirmPage, type Confirmation } from '../../console/confirm-page'
import { layoutAdmin, type ConsoleContext } from './console-env'

/**
 * A destructive console action happens only on a post that carries `confirmed=1`; the first post
 * (the button on the page) is answered with a confirmation page that posts the same fields again
 * with it. Returns that page, or undefined when the action is confirmed. The form was already
 * checked for origin and CSRF token, like every console post.
 */
export async function confirmFirst(c: ConsoleContext, confirmation: Confirmation): Promise<Response | undefined> {
  const form = await c.req.parseBody()
  if (form.confirmed === '1') return undefined
  const fields: Record<string, string> = {}
  for (const [name, value] of Object.entries(form)) {
    if (name !== '_csrf' && name !== 'confirmed' && typeof value === 'string') fields[name] = value
  }
  return c.html(<ConfirmPage admin={layoutAdmin(c)} action={new URL(c.req.url).pathname} fields={fields} {...confirmation} />, 200)
}
