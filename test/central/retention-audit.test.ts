import { describe, expect, it } from 'vitest'
import type { AuditEventType } from '../../central/audit/audit-event'
import { purgeAuditEvents } from '../../central/audit/store'
import { loadConfig } from '../../central/config'
import { purgeEndedState } from '../../central/retention'
import { useCentralTestApp } from '../support/central-app'

const central = useCentralTestApp()
const DAY = 86_400_000

async function insertEvents(type: AuditEventType, ageDays: number, count: number) {
  const at = new Date(central.t.clock().getTime() - ageDays * DAY)
  await central.db.sql`
    insert into audit_events (at, event_type, actor, reason)
    select ${at}, ${type}, 'system', 'retention-test' from generate_series(1, ${count})`
}

const left = async () =>
  central.db.sql<{ event_type: string; age_days: number; n: number }[]>`
    select event_type, round(extract(epoch from (${central.t.clock()}::timestamptz - at)) / 86400)::int as age_days, count(*)::int as n
    from audit_events where reason = 'retention-test' group by 1, 2 order by 1, 2`

describe('audit retention', () => {
  it('purges routine events after AUDIT_RETENTION_SECONDS and security events only after AUDIT_SECURITY_RETENTION_SECONDS, in bounded batches', async () => {
    await central.db.sql`delete from audit_events where reason = 'retention-test'`
    await insertEvents('session.refreshed', 40, 25)
    await insertEvents('session.refreshed', 5, 3)
    await insertEvents('console.sign_in', 40, 2)
    await insertEvents('session.reuse_detected', 40, 2)
    await insertEvents('session.revoked', 500, 4)
    await insertEvents('user.updated', 40, 1)
    const now = central.t.clock()

    const deleted = await purgeAuditEvents(central.db.sql, {
      routineBefore: new Date(now.getTime() - 30 * DAY),
      securityBefore: new Date(now.getTime() - 400 * DAY),
      batchSize: 7,
    })

    expect(deleted).toBe(25 + 2 + 4)
    expect(await left()).toEqual([
      { event_type: 'session.refreshed', age_days: 5, n: 3 },
      { event_type: 'session.reuse_detected', age_days: 40, n: 2 },
      { event_type: 'user.updated', age_days: 40, n: 1 },
    ])
  })

  it('runs with the periodic purge, by the configured retentions', async () => {
    await central.db.sql`delete from audit_events where reason = 'retention-test'`
    await insertEvents('session.refreshed', 3, 2)
    await insertEvents('session.created', 3, 1)
    await insertEvents('session.created', 12, 1)
    const config = loadConfig({ AUDIT_RETENTION_SECONDS: String(2 * 86_400), AUDIT_SECURITY_RETENTION_SECONDS: String(10 * 86_400) })
    await purgeEndedState(central.db.sql, config, central.t.clock())
    expect(await left()).toEqual([{ event_type: 'session.created', age_days: 3, n: 1 }])
  })
})

describe('audit retention settings', () => {
  it('keep security events longer than routine ones by default', () => {
    const config = loadConfig({})
    expect(config.AUDIT_REFRESH_EVENTS).toBe(true)
    expect(config.AUDIT_SECURITY_RETENTION_SECONDS).toBeGreaterThan(config.AUDIT_RETENTION_SECONDS)
  })

  it('refuse a setting that is not true or false', () => {
    expect(() => loadConfig({ AUDIT_REFRESH_EVENTS: 'yes' })).toThrow(/AUDIT_REFRESH_EVENTS/)
  })
})
