import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  rawHeaders: string[]
  body: string
}

export interface TestOrigin {
  url: string
  requests: ReceivedRequest[]
  /** Replaces the default echo handler (the request body is already read into `received.body`). */
  handle: ((received: ReceivedRequest, response: ServerResponse, request: IncomingMessage) => void) | undefined
  close(): Promise<void>
  /** The underlying server (e.g. to handle `upgrade`). */
  server: Server
}

/** A real HTTP origin on 127.0.0.1 that records what reached it and answers with a JSON echo. */
export async function startOrigin(): Promise<TestOrigin> {
  const origin: TestOrigin = {
    server: undefined as unknown as Server,
    url: '',
    requests: [],
    handle: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const received: ReceivedRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        rawHeaders: request.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      origin.requests.push(received)
      if (origin.handle) return origin.handle(received, response, request)
      response.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'demo' })
      response.end(JSON.stringify({ method: received.method, url: received.url }))
    })
  })
  origin.server = server
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return origin
}

/** A port nothing listens on (bound then released). */
export async function findClosedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
