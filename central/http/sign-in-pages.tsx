import type { Child } from 'hono/jsx'
import { CONSOLE_CSS } from '../console/console-styles'
import { CredentialFields } from '../console/credential-fields'

/** The console's look, served under /auth (the edge forwards /auth/*, not /console/*). */
export const SIGN_IN_CSS = `${CONSOLE_CSS}
.signin { max-width: 420px; margin: 48px auto; }
.signin .providers { list-style: none; padding: 0; margin: 0; display: grid; gap: 10px; }
.signin .providers a { display: block; text-align: center; padding: 9px 14px; border-radius: 6px; border: 1px solid var(--accent); color: var(--accent); background: #fff; text-decoration: none; font-weight: 600; }
.signin .providers a:hover { background: #eef4fb; }
.signin .or { text-align: center; color: var(--muted); margin: 16px 0; }
.signin .field input { width: 100%; }
`

export const SIGN_IN_CSS_PATH = '/auth/assets/sign-in.css'

function Page({ title, children }: { title: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${title} · portcullis`}</title>
        <link rel="stylesheet" href={SIGN_IN_CSS_PATH} />
      </head>
      <body>
        <main id="main">
          <div class="signin">{children}</div>
        </main>
      </body>
    </html>
  )
}

export interface ProviderButton {
  id: string
  label: string
}

/** The hosted sign-in page: one link per provider, and the password form when it is useful. */
export function SignInPage(props: { providers: ProviderButton[]; returnTo: string; showPassword: boolean; error?: string; username?: string }) {
  const query = (id: string) => `/auth/sign-in/${encodeURIComponent(id)}?return_to=${encodeURIComponent(props.returnTo)}`
  return (
    <Page title="Sign in">
      <h1>Sign in</h1>
      {props.error && (
        <div class="error" role="alert">
          {props.error}
        </div>
      )}
      {props.providers.length > 0 && (
        <ul class="providers">
          {props.providers.map((p) => (
            <li>
              <a href={query(p.id)}>{`Sign in with ${p.label}`}</a>
            </li>
          ))}
        </ul>
      )}
      {props.providers.length > 0 && props.showPassword && <p class="or">or</p>}
      {props.showPassword && (
        <div class="panel">
          <form method="post" action="/auth/sign-in/password">
            <input type="hidden" name="return_to" value={props.returnTo} />
            <CredentialFields username={props.username} />
            <button class="primary" type="submit">
              Sign in
            </button>
          </form>
        </div>
      )}
      {props.providers.length === 0 && !props.showPassword && <p>No sign-in method is configured.</p>}
    </Page>
  )
}

/** A failed or refused sign-in: what happened in one sentence, and a way back. */
export function SignInProblemPage({ title, text, retryHref }: { title: string; text: string; retryHref: string }) {
  return (
    <Page title={title}>
      <h1>{title}</h1>
      <div class="error" role="alert">
        {text}
      </div>
      <p>
        <a href={retryHref}>Try again</a>
      </p>
    </Page>
  )
}

/**
 * Asked when a sign-out link was followed from another site (or a browser that does not say
 * where from): the form posts back here, so only a click on this page signs the person out.
 */
export function SignOutConfirmPage({ returnTo }: { returnTo: string }) {
  return (
    <Page title="Sign out">
      <h1>Sign out?</h1>
      <p>You followed a link that signs you out of this site.</p>
      <form method="post" action="/auth/sign-out">
        <input type="hidden" name="return_to" value={returnTo} />
        <button class="primary" type="submit">
          Sign out
        </button>
      </form>
    </Page>
  )
}
