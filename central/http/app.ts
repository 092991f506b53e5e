import { bodyLimit } from 'hono/body-limit'
import { PayloadTooLarge } from '../../shared/errors'
import type { AppDeps } from '../app-deps'
import { createRouter } from './create-router'
import { handleError } from './handle-error'
import { adminAuditRoutes } from './admin/audit'
import { adminClientRoutes } from './admin/clients'
import { adminKeyRoutes } from './admin/keys'
import { adminSessionStartRoutes } from './admin/session-start'
import { adminSessionRoutes } from './admin/sessions'
import { adminUserRoutes } from './admin/users'
import { authRoutes } from './auth-routes'
import { edgeFeedRoutes } from './edge-feed-routes'
import { healthRoutes } from './health-routes'
import { oauthRoutes } from './oauth-routes'
import { wellKnownRoutes } from './well-known-routes'
import { NotFound } from '../../shared/errors'
import { createAppMetrics } from '../metrics/app-metrics'
import { observeHttpRequests } from '../metrics/observe-http-request'
import { metricsRoutes } from './metrics-routes'
import { consoleRoutes } from './console/console-routes'
import { federationRoutes } from './federation-routes'
import { federationSettingsFrom } from '../federation/ports'

/** Central's HTTP surface: every router mounted, one error mapping, the OpenAPI document. */
export function createApp(deps: AppDeps) {
  const app = createRouter()
  app.onError(handleError)
  // A registry per app instance (not prom-client's global), so apps in one process never clash.
  const metrics = createAppMetrics({ sql: deps.sql, clock: deps.clock, poolMaxConnections: deps.config.DATABASE_POOL_MAX })
  app.use('*', observeHttpRequests(metrics))
  app.notFound(() => {
    throw new NotFound('no such route')
  })
  const tooLarge = () => new PayloadTooLarge(`request body exceeds ${deps.config.MAX_BODY_BYTES} bytes`)
  const limitStreamedBody = bodyLimit({
    maxSize: deps.config.MAX_BODY_BYTES,
    onError: () => {
      throw tooLarge()
    },
  })
  app.use('*', async (c, next) => {
    // A declared Content-Length decides alone (Node holds the body to it, RFC 9112 §6.3): bodyLimit
    // would read `c.req.raw.body`, making @hono/node-server build a web stream for every request.
    const length = c.req.header('Content-Length')
    if (length !== undefined && c.req.header('Transfer-Encoding') === undefined) {
      if (Number(length) > deps.config.MAX_BODY_BYTES) throw tooLarge()
      return next()
    }
    return limitStreamedBody(c, next)
  })
  app.route('/', healthRoutes(deps))
  app.route('/', wellKnownRoutes(deps))
  app.route('/', authRoutes(deps))
  app.route('/', federationRoutes(deps, deps.config.IDENTITY_PROVIDERS, federationSettingsFrom(deps.config, { publicUrl: deps.config.PUBLIC_URL })))
  app.route('/', oauthRoutes(deps))
  app.route('/', adminUserRoutes(deps))
  app.route('/', adminSessionRoutes(deps))
  app.route('/', adminAuditRoutes(deps))
  app.route('/', adminKeyRoutes(deps))
  app.route('/', adminSessionStartRoutes(deps))
  app.route('/', adminClientRoutes(deps))
  app.route('/', edgeFeedRoutes(deps))
  app.route('/', metricsRoutes(deps, metrics))
  app.route('/', consoleRoutes(deps))
  // Routes name `security: [{ bearerAuth: [] }]`; the scheme itself is declared once here.
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' })
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'portcullis central', version: '0.1.0' },
  })
  return app
}
