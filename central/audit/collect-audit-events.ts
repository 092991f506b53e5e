import { AsyncLocalStorage } from 'node:async_hooks'
import type { AuditEventInput } from './audit-event'

/**
 * The audit trail already names every session outcome (refreshed, reuse detected, revoked and
 * why), so metrics are derived from it in one place instead of counter calls spread over the
 * session code: `recordAuditEvents` reports each event written here, and whoever runs a unit of
 * work inside `collectAuditEvents` (the metrics middleware, per request) reads what it wrote.
 * Outside such a run (background purge) nothing is collected.
 */
const collected = new AsyncLocalStorage<AuditEventInput[]>()

/** Called by recordAuditEvents for the events it wrote. Cheap and never throws. */
export function reportWrittenAuditEvents(events: readonly AuditEventInput[]): void {
  collected.getStore()?.push(...events)
}

/** Runs `next`, collecting the audit events written while it runs into `events`. */
export function collectAuditEvents<T>(events: AuditEventInput[], next: () => Promise<T>): Promise<T> {
  return collected.run(events, next)
}
