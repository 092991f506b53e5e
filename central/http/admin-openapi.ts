import { z } from '@hono/zod-openapi'
import { errorResponse } from './token-response'

/** What every admin API route says in the OpenAPI document: it takes the admin Bearer token… */
export const ADMIN_SECURITY = [{ bearerAuth: [] }]

/** …and can answer with these errors (plus its own). */
export const ADMIN_ERRORS = {
  400: errorResponse('Invalid input (`invalid_request`)'),
  401: errorResponse('Missing or wrong admin token (`invalid_token`)'),
  404: errorResponse('Unknown user, session or key, or admin API disabled (`not_found`)'),
  503: errorResponse('Database unavailable (`temporarily_unavailable`)'),
}

/** Usernames travel in URL paths (`/admin/users/:username`), so they stay path-safe. */
export const UsernameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._@+-]+$/, 'letters, digits and . _ @ + - only')
  .openapi({ example: 'alice' })
