import { Hono, type Context } from 'hono'
import type { Config } from '../../config'
import type { ConsoleAdmin } from '../../console-sessions/store'
import { csrfTokenFor } from '../../console/console-session'

/** What the console's session guard puts on the context; `signInUsername` lets a refused sign-in keep what was typed. */
export type ConsoleEnv = { Variables: { admin: ConsoleAdmin; sessionToken: string; signInUsername: string } }
export type ConsoleContext = Context<ConsoleEnv>

export const createConsoleRouter = () => new Hono<ConsoleEnv>()

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** HttpOnly, SameSite=Strict, whole-site console cookies (Secure unless COOKIE_SECURE=false). */
export const consoleCookieOptions = (config: Config) => ({ httpOnly: true, secure: config.COOKIE_SECURE, sameSite: 'Strict', path: '/' }) as const

/** Who a console change is attributed to in the audit trail. */
export const actorOf = (c: ConsoleContext) => `admin:${c.get('admin').username}`

/** The signed-in admin as the layout shows them, with the CSRF token every form carries. */
export const layoutAdmin = (c: ConsoleContext) => ({ username: c.get('admin').username, csrfToken: csrfTokenFor(c.get('sessionToken')) })

/** How long until the edges refuse a revoked token: the edges' revocation bound (REVOCATION_TRUST_SECONDS). */
export const revocationBoundText = (config: Config) => `${config.REVOCATION_TRUST_SECONDS} second${config.REVOCATION_TRUST_SECONDS === 1 ? '' : 's'} (the edges' revocation bound)`
