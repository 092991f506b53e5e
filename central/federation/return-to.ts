/**
 * Where a sign-in or sign-out may send the browser afterwards: a path on this host, or an
 * absolute URL on one of the allowed origins. Anything else becomes `/`, so the parameter can
 * never make portcullis an open redirector.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Unvalidated_Redirects_and_Forwards_Cheat_Sheet.html
 */
export function safeReturnTo(raw: string | undefined, allowedOrigins: readonly string[]): string {
  if (!raw || raw.length > 2000) return '/'
  // Browsers treat `\` as `/` and drop tabs/newlines in URLs: `/\evil`, `/\t/evil` are other hosts.
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return '/'
  if (raw.startsWith('/')) return raw.startsWith('//') ? '/' : raw
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return '/'
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return '/'
  if (url.username || url.password) return '/'
  return allowedOrigins.includes(url.origin) ? url.href : '/'
}

/** An absolute form of a safe return_to, for providers that need one (post_logout_redirect_uri). */
export function absoluteReturnTo(returnTo: string, publicUrl: string): string {
  return new URL(returnTo, publicUrl).href
}
