import Fastify from 'fastify'
import { describeCurrentUserMiddleware, userView, type StartServer } from './current-user-frameworks'

describeCurrentUserMiddleware('fastify', async (): Promise<StartServer> => {
  // Through the package's export name, so the export map and the built file are what is tested.
  const { currentUserPlugin, requireCurrentUser } = await import('portcullis/current-user/fastify')
  return async (options) => {
    const app = Fastify()
    // Registered once at the root: the decorator and hook reach every route (not encapsulated).
    await app.register(currentUserPlugin, options)
    app.get('/public', async (request) => userView(request.currentUser))
    app.get('/private', { preHandler: requireCurrentUser }, async (request) => userView(request.currentUser))
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return { url, close: () => app.close() }
  }
})
