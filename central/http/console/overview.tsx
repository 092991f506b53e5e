import type { AppDeps } from '../../app-deps'
import { countRecentActivity, listHourlyActivity } from '../../audit/store'
import { OverviewPage } from '../../console/overview-page'
import { countActiveSessions } from '../../sessions/store'
import { createConsoleRouter, layoutAdmin } from './console-env'

/** `/console/`: sessions alive now, the last 24 hours' activity, and its hourly chart. */
export function consoleOverviewRoutes({ sql, clock }: AppDeps) {
  const router = createConsoleRouter()
  router.get('/console/', async (c) => {
    const now = clock()
    const [activeSessions, activity, hours] = await Promise.all([countActiveSessions(sql, now), countRecentActivity(sql, now), listHourlyActivity(sql, now)])
    return c.html(<OverviewPage admin={layoutAdmin(c)} counts={{ activeSessions, ...activity }} hours={hours} />)
  })
  return router
}
