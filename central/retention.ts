import type { Sql } from 'postgres'
import { purgeAuditEvents } from './audit/store'
import { purgeExpiredClientState } from './clients/store'
import type { Config } from './config'
import { purgeExpiredConsoleSessions } from './console-sessions/store'
import { feedWindowSeconds } from './revocations/feed-window'
import { purgeEndedSessions } from './sessions/store'
import { purgeLoginAttempts } from './users/store'

/**
 * The periodic retention purge (every instance runs it; the deletes are idempotent): sessions ended
 * longer than SESSION_RETENTION_SECONDS ago, login attempts outside the throttle window, expired
 * console sessions, and audit events past their retention (routine ones after
 * AUDIT_RETENTION_SECONDS, security ones after AUDIT_SECURITY_RETENTION_SECONDS, in batches).
 * A database outage only postpones it to the next tick.
 */
export async function purgeEndedState(sql: Sql, config: Config, now: Date): Promise<void> {
  const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000)
  try {
    const sessions = await purgeEndedSessions(sql, { olderThan: ago(config.SESSION_RETENTION_SECONDS) })
    await purgeLoginAttempts(sql, ago(config.LOGIN_THROTTLE_WINDOW_SECONDS))
    await purgeExpiredConsoleSessions(sql, now)
    // Client assertion and DPoP proof ids past their window; deleted clients whose tokens have all expired.
    await purgeExpiredClientState(sql, { now, feedWindowSeconds: feedWindowSeconds(config.ACCESS_TOKEN_TTL_SECONDS, config.CLOCK_TOLERANCE_SECONDS) })
    const events = await purgeAuditEvents(sql, {
      routineBefore: ago(config.AUDIT_RETENTION_SECONDS),
      securityBefore: ago(config.AUDIT_SECURITY_RETENTION_SECONDS),
    })
    if (sessions > 0) console.log(JSON.stringify({ level: 'info', msg: 'purged ended sessions', count: sessions }))
    if (events > 0) console.log(JSON.stringify({ level: 'info', msg: 'purged audit events past retention', count: events }))
  } catch (error) {
    console.error(JSON.stringify({ level: 'warn', msg: 'purge failed; retrying next interval', error: (error as Error).name }))
  }
}
