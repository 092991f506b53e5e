import { AsyncLocalStorage } from 'node:async_hooks'
import type { AuditEventInput } from '../audit/store'

/**
 * The audit trail already names every session outcome (refreshed, reuse detected, revoked and
 * why), so metrics are derived from it in one place instead of sprinkling counter calls over
 * the session code: `recordAuditEvent` reports each event here, and the request that caused it
 * (see observe-http-request.ts) turns what it collected into counters once its response is
 * known. Outside a request (background purge) nothing is collected.
 */
const requestEvents = new AsyncLocalStorage<AuditEventInput[]>()

/** Called by recordAuditEvent for every event written. Cheap and never throws. */
export function observeAuditEvent(event: AuditEventInput): void {
  requestEvents.getStore()?.push(event)
}

/** Runs `next` collecting the audit events written while it runs into `events`. */
export function collectAuditEvents<T>(events: AuditEventInput[], next: () => Promise<T>): Promise<T> {
  return requestEvents.run(events, next)
}
