import type { Sql } from 'postgres'
import type { Config } from './config'
import { purgeExpiredConsoleSessions } from './console-sessions/store'
import { purgeEndedSessions } from './sessions/store'
import { purgeLoginAttempts } from './users/store'

/**
 * The periodic retention purge (every instance runs it; the deletes are idempotent): sessions ended
 * longer than SESSION_RETENTION_SECONDS ago, login attempts outside the throttle window, expired
 * console sessions. A database outage only postpones it to the next tick.
 */
export async function purgeEndedState(sql: Sql, config: Config, now: Date): Promise<void> {
  try {
    const sessions = await purgeEndedSessions(sql, { olderThan: new Date(now.getTime() - config.SESSION_RETENTION_SECONDS * 1000) })
    await purgeLoginAttempts(sql, new Date(now.getTime() - config.LOGIN_THROTTLE_WINDOW_SECONDS * 1000))
    await purgeExpiredConsoleSessions(sql, now)
    if (sessions > 0) console.log(JSON.stringify({ level: 'info', msg: 'purged ended sessions', count: sessions }))
  } catch (error) {
    console.error(JSON.stringify({ level: 'warn', msg: 'purge failed; retrying next interval', error: (error as Error).name }))
  }
}
