/** The username and password fields of a sign-in form: the console's and the hosted sign-in page's. */
export function CredentialFields({ username, autofocus = false }: { username?: string; autofocus?: boolean }) {
  return (
    <>
      <p class="field">
        <label for="username">Username</label>
        <input id="username" name="username" type="text" autocomplete="username" required autofocus={autofocus} value={username ?? ''} />
      </p>
      <p class="field">
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
      </p>
    </>
  )
}
