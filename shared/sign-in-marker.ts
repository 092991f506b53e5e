/**
 * Cookie the edge sets when it sends a page load to sign-in, so a page load that comes back still
 * without a valid token gets an error page instead of another redirect (a loop). Central clears
 * it whenever it clears the session cookies, so a sign-out is not mistaken for such a loop.
 */
export const SIGN_IN_MARKER_COOKIE = 'portcullis_signin'
