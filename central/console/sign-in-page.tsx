import { CredentialFields } from './credential-fields'
import { Layout, Notice } from './layout'

/** Username + password form for console administrators (`portcullis:admin`). */
export function SignInPage({ csrfToken, error, username }: { csrfToken: string; error?: string; username?: string }) {
  return (
    <Layout title="Sign in">
      <div class="signin">
        <h1>portcullis console</h1>
        <Notice kind="error" text={error} />
        <div class="panel">
          <form method="post" action="/console/sign-in">
            <input type="hidden" name="_csrf" value={csrfToken} />
            <CredentialFields username={username} autofocus />
            <button class="primary" type="submit">
              Sign in
            </button>
          </form>
        </div>
        <p class="muted">Only users holding the portcullis:admin role can sign in.</p>
      </div>
    </Layout>
  )
}

/** A bare message page: a refused form post (cross-site, stale CSRF token), an unknown user. */
export function MessagePage({ title, text }: { title: string; text: string }) {
  return (
    <Layout title={title}>
      <h1>{title}</h1>
      <Notice kind="error" text={text} />
      <p>
        <a href="/console/">Back to the console</a>
      </p>
    </Layout>
  )
}
