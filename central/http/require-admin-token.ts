import type { MiddlewareHandler } from 'hono'
import type { Config } from '../config'
import { requireBearerSecret } from './require-bearer-secret'

/** Who an admin-API change is attributed to in the audit trail. */
export const ADMIN_API_ACTOR = 'admin:api'

/**
 * Guards /admin/*: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. With no
 * ADMIN_TOKEN configured the admin API does not exist (404), rather than being open.
 */
export function requireAdminToken(config: Config): MiddlewareHandler {
  return requireBearerSecret(config.ADMIN_TOKEN, 'admin API')
}
