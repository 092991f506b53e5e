import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { describeCurrentUserMiddleware, userView, type StartServer } from './current-user-frameworks'

describeCurrentUserMiddleware('hono', async (): Promise<StartServer> => {
  // Through the package's export name, so the export map and the built file are what is tested.
  const { currentUser } = await import('portcullis/current-user/hono')
  return async (options) => {
    const app = new Hono()
    app.get('/public', currentUser(options), (c) => c.json(userView(c.get('currentUser'))))
    app.get('/private', currentUser({ ...options, required: true }), (c) => c.json(userView(c.get('currentUser'))))
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
    await new Promise<void>((resolve) => server.once('listening', resolve))
    const { port } = server.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
  }
})
