import type { Child } from 'hono/jsx'

export type ConsoleSection = 'overview' | 'users' | 'audit' | 'keys' | 'clients'

export interface LayoutProps {
  title: string
  /** Absent on the sign-in page. */
  admin?: { username: string; csrfToken: string }
  section?: ConsoleSection
  children?: Child
}

const sections: [ConsoleSection, string, string][] = [
  ['overview', 'Overview', '/console/'],
  ['users', 'Users', '/console/users'],
  ['audit', 'Audit trail', '/console/audit'],
  ['keys', 'Signing keys', '/console/keys'],
  ['clients', 'Clients', '/console/clients'],
]

/** The page shell: skip link, landmark header with navigation, one `main`. No external assets. */
export function Layout({ title, admin, section, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · portcullis console`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        {admin && (
          <header class="top">
            <a class="brand" href="/console/">
              portcullis
            </a>
            <nav aria-label="Console">
              <ul>
                {sections.map(([key, label, href]) => (
                  <li>
                    <a href={href} aria-current={key === section ? 'page' : undefined}>
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <div class="who">
              <span>
                Signed in as <strong>{admin.username}</strong>
              </span>
              <form class="inline" method="post" action="/console/sign-out">
                <CsrfField token={admin.csrfToken} />
                <button class="link" type="submit">
                  Sign out
                </button>
              </form>
            </div>
          </header>
        )}
        <main id="main">{children}</main>
      </body>
    </html>
  )
}

/** The console page of one user. */
export function userPath(username: string): string {
  return `/console/users/${encodeURIComponent(username)}`
}

/** A state shown as a coloured label (the CSS has one colour per state). */
export function StateBadge({ state }: { state: string }) {
  return <span class={`badge ${state}`}>{state}</span>
}

/** Hidden CSRF field every console form carries. */
export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />
}

export function Notice({ text, kind = 'notice' }: { text: string | undefined; kind?: 'notice' | 'error' }) {
  if (!text) return null
  return (
    <div class={kind} role={kind === 'error' ? 'alert' : 'status'}>
      {text}
    </div>
  )
}
