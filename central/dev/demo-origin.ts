import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'

/**
 * The demo API behind the local edge: an ordinary origin that never sees a token, only the
 * identity headers the edge sets after verifying one.
 */
export function createDemoOrigin() {
  const app = new Hono()
  app.get('/api/public/hello', (c) => c.json({ hello: 'anyone', note: 'public route: no token needed' }))
  app.all('/api/*', (c) => {
    const identity = Object.fromEntries(
      [...c.req.raw.headers].filter(([name]) => name.toLowerCase().startsWith('x-portcullis-')),
    )
    return c.json({ message: `hello ${identity['x-portcullis-sub'] ?? 'stranger'}`, path: c.req.path, identity })
  })
  return app
}

export async function startDemoOrigin(port: number): Promise<{ url: string; stop(): Promise<void> }> {
  const server = serve({ fetch: createDemoOrigin().fetch, port, hostname: '127.0.0.1' }) as Server
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
