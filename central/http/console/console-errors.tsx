import type { Context } from 'hono'
import { setCookie } from 'hono/cookie'
import { randomBytes } from 'node:crypto'
import { Conflict, InvalidCredentials, TooManyRequests } from '../../../shared/errors'
import { LastAdminConflict } from '../../users/change-user'
import type { Config } from '../../config'
import { consoleCookieNames } from '../../console/console-session'
import { MessagePage, SignInPage } from '../../console/sign-in-page'
import { handleError } from '../handle-error'
import { consoleCookieOptions, type ConsoleContext } from './console-env'

/** A failure the console answers with a message page (refused form, unknown user or session). */
export class ConsolePageError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    readonly title: string,
    readonly text: string,
  ) {
    super(text)
  }
}

/** Every refused sign-in reads the same: the console does not confirm which accounts exist. */
export class SignInRefused extends Error {
  constructor(readonly status: 400 | 401) {
    super('console sign-in refused')
  }
}

export const SIGN_IN_FAILED = 'Sign-in failed: wrong username or password, or the account may not use the console.'

/**
 * The console's one error mapping (`onError` of its router, as handleError is the API's): a
 * failure becomes a page, a refused sign-in the sign-in form again, a key already waiting to
 * sign a notice on the keys page; anything else is answered as the API answers it.
 */
export function handleConsoleError(config: Config) {
  return (error: Error, c: ConsoleContext): Response | Promise<Response> => {
    if (error instanceof ConsolePageError) return c.html(<MessagePage title={error.title} text={error.text} />, error.status)
    if (error instanceof SignInRefused) return signInAgain(c, config, error.status, SIGN_IN_FAILED)
    if (error instanceof InvalidCredentials) return signInAgain(c, config, 401, SIGN_IN_FAILED)
    if (error instanceof TooManyRequests) return signInAgain(c, config, 429, `Too many failed attempts. Try again in ${error.headers['Retry-After']} seconds.`)
    if (error instanceof LastAdminConflict) return c.html(<MessagePage title="Change refused" text={error.message} />, 409)
    // The other conflict a console form can meet: rotating while a new key still waits to sign.
    if (error instanceof Conflict) return c.redirect('/console/keys?done=pending', 303)
    return handleError(error, c)
  }
}

function signInAgain(c: ConsoleContext, config: Config, status: 400 | 401 | 429, message: string) {
  return c.html(<SignInPage csrfToken={issueSignInCsrf(c, config)} error={message} username={c.get('signInUsername') ?? ''} />, status)
}

/** Login CSRF: before a session exists, a double-submit cookie stands in for the session token. */
export function issueSignInCsrf(c: Context, config: Config): string {
  const value = randomBytes(24).toString('base64url')
  setCookie(c, consoleCookieNames(config).signInCsrf, value, { ...consoleCookieOptions(config), maxAge: 3600 })
  return value
}
