import { describe, expect, it } from 'vitest'
import { collectAuditEvents } from '../../../central/audit/collect-audit-events'
import type { AuditEventInput } from '../../../central/audit/audit-event'
import { refreshSession } from '../../../central/sessions/refresh-session'
import { buildCentralApp, useCentralTestApp } from '../../support/central-app'
import { startTestSession } from '../../support/central-sessions'
import { insertTestUser } from '../../support/users'

const central = useCentralTestApp({ env: { REFRESH_GRACE_SECONDS: '10' } })

const refreshedEvents = async (sid: string) =>
  central.db.sql<{ at: Date }[]>`select at from audit_events where event_type = 'session.refreshed' and session_id = ${sid}`

describe('session.refreshed events (AUDIT_REFRESH_EVENTS)', () => {
  it('records one event per rotation by default, written by the rotation statement itself, and none for a replay', async () => {
    const user = await insertTestUser(central.db.sql)
    const started = await startTestSession(central.t.deps, { user, actor: 'user' })
    const first = await refreshSession(central.t.deps, { refreshToken: started.refreshToken, ip: null, userAgent: null })
    await refreshSession(central.t.deps, { refreshToken: started.refreshToken, ip: null, userAgent: null })
    await refreshSession(central.t.deps, { refreshToken: first.refreshToken, ip: null, userAgent: null })
    expect(await refreshedEvents(started.sessionId)).toHaveLength(2)
  })

  it('records none when turned off, while metrics still see every rotation', async () => {
    const quiet = await buildCentralApp(central.db.sql, { clock: central.t.clock, env: { AUDIT_REFRESH_EVENTS: 'false' } })
    const user = await insertTestUser(central.db.sql)
    const started = await startTestSession(quiet.deps, { user, actor: 'user' })
    const seen: AuditEventInput[] = []
    const rotated = await collectAuditEvents(seen, () => refreshSession(quiet.deps, { refreshToken: started.refreshToken, ip: null, userAgent: null }))
    expect(rotated.sessionId).toBe(started.sessionId)
    expect(seen.map((e) => e.type)).toEqual(['session.refreshed'])
    expect(await refreshedEvents(started.sessionId)).toHaveLength(0)
    // Security events are kept whatever the setting.
    expect(await central.db.sql`select 1 from audit_events where event_type = 'session.created' and session_id = ${started.sessionId}`).toHaveLength(1)
  })
})
