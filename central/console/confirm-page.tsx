import { CsrfField, Layout, type ConsoleSection, type LayoutProps } from './layout'

/** What a destructive console action says before it happens. */
export interface Confirmation {
  title: string
  /** What will happen, and to whom: the one sentence an admin reads before confirming. */
  text: string
  /** The button that does it. */
  confirmLabel: string
  /** Where "Cancel" leads (the page the action came from). */
  cancelHref: string
  section: ConsoleSection
}

export interface ConfirmPageProps extends Confirmation {
  admin: NonNullable<LayoutProps['admin']>
  /** The form to post again: the action URL and the fields the first post carried. */
  action: string
  fields: Record<string, string>
}

/**
 * The second step of a destructive action, without client script (the console's CSP allows none):
 * the action's button posts here first, and only this page's form, which adds `confirmed=1`,
 * makes the change. Cancel is a plain link back.
 */
export function ConfirmPage({ admin, action, fields, title, text, confirmLabel, cancelHref, section }: ConfirmPageProps) {
  return (
    <Layout title={title} admin={admin} section={section}>
      <h1>{title}</h1>
      <div class="panel">
        <p>{text}</p>
        <form method="post" action={action}>
          <CsrfField token={admin.csrfToken} />
          {Object.entries(fields).map(([name, value]) => (
            <input type="hidden" name={name} value={value} />
          ))}
          <input type="hidden" name="confirmed" value="1" />
          <div class="row center">
            <button class="danger solid" type="submit">
              {confirmLabel}
            </button>
            <a href={cancelHref}>Cancel</a>
          </div>
        </form>
      </div>
    </Layout>
  )
}
