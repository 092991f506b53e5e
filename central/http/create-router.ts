import { OpenAPIHono } from '@hono/zod-openapi'
import { InvalidRequest } from '../../shared/errors'

/**
 * Every central router is an OpenAPIHono, so its zod schemas both validate input and produce
 * the OpenAPI 3.1 document at /openapi.json (the contract cannot drift from the code).
 * A failed validation becomes `invalid_request` naming the field, via app.onError.
 */
export function createRouter() {
  return new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) {
        const issue = result.error.issues[0]
        const where = issue?.path.length ? `${issue.path.join('.')}: ` : ''
        throw new InvalidRequest(`${where}${issue?.message ?? 'invalid input'}`)
      }
    },
  })
}

export type Router = ReturnType<typeof createRouter>
