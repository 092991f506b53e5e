import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import type { CurrentUser } from './current-user'
import { createCurrentUserResolver, refusalParts, type CurrentUserMiddlewareOptions } from './current-user-middleware'
import { InvalidToken } from './errors'
import { toErrorResponse } from './oauth-error-response'

export type { CurrentUser } from './current-user'
export type { CurrentUserMiddlewareOptions } from './current-user-middleware'

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller as the edge verified it; `null` on a public route. Set by `currentUserPlugin`. */
    currentUser: CurrentUser | null
  }
}

/**
 * Fastify plugin: decorates every request with `request.currentUser` (from the edge's identity
 * headers, or with `verify` by re-verifying the forwarded token) in an `onRequest` hook, and with
 * `required: true` answers 401 when there is none. Registered once, it applies to the whole app
 * (not encapsulated, as `fastify-plugin` would mark it). For a single route, add
 * `{ preHandler: requireCurrentUser }`.
 * @see https://fastify.dev/docs/latest/Reference/Plugins/
 */
export const currentUserPlugin: FastifyPluginCallback<CurrentUserMiddlewareOptions> = (fastify, options, done) => {
  const resolve = createCurrentUserResolver(options)
  fastify.decorateRequest('currentUser', null)
  fastify.addHook('onRequest', async (request, reply) => {
    const resolution = await resolve(request.headers)
    if (resolution.kind === 'resolved') {
      request.currentUser = resolution.user
      return
    }
    await sendRefusal(reply, resolution.response)
  })
  done()
}
// What fastify-plugin sets: the decorator and hook reach routes outside this plugin's scope.
Object.assign(currentUserPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'portcullis-current-user' })

/** A `preHandler` for routes that need a caller: 401 (RFC 6750 §3.1) when `request.currentUser` is null. */
export async function requireCurrentUser(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (!request.currentUser) await sendRefusal(reply, toErrorResponse(InvalidToken.missing('this route needs an authenticated caller')))
}

async function sendRefusal(reply: FastifyReply, response: Response): Promise<void> {
  const { status, headers, body } = await refusalParts(response)
  await reply.code(status).headers(headers).send(body)
}
