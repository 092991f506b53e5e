import type { AddressInfo } from 'node:net'
import express from 'express'
import { describeCurrentUserMiddleware, userView, type StartServer } from './current-user-frameworks'

describeCurrentUserMiddleware('express', async (): Promise<StartServer> => {
  // Through the package's export name, so the export map and the built file are what is tested.
  const { currentUser } = await import('portcullis/current-user/express')
  return async (options) => {
    const app = express()
    app.get('/public', currentUser(options), (req, res) => {
      res.json(userView(req.currentUser))
    })
    app.get('/private', currentUser({ ...options, required: true }), (req, res) => {
      res.json(userView(req.currentUser))
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise<void>((resolve) => server.once('listening', resolve))
    const { port } = server.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
  }
})
