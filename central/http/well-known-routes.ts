import type { AppDeps } from './app-deps'
import { createRouter } from './create-router'

// Placeholder: routes land here (see the central issue's HTTP API table).
export function wellKnownRoutes(_deps: AppDeps) {
  return createRouter()
}
