import { ActivityChart } from './activity-chart'
import { Layout, type LayoutProps } from './layout'
import type { ActivityHour, RecentActivity } from '../audit/store'

/** Sessions alive now, and the events of the last 24 hours. */
export type OverviewCounts = RecentActivity & { activeSessions: number }

/** Headline numbers (now, and the last 24 hours) and the hourly chart. */
export function OverviewPage({ admin, counts, hours }: { admin: LayoutProps['admin']; counts: OverviewCounts; hours: ActivityHour[] }) {
  const cards: [string, number, boolean][] = [
    ['Active sessions', counts.activeSessions, false],
    ['Logins (24 h)', counts.logins, false],
    ['Refreshes (24 h)', counts.refreshes, false],
    ['Reuse detections (24 h)', counts.reuseDetections, counts.reuseDetections > 0],
    ['Revocations (24 h)', counts.revocations, false],
  ]
  return (
    <Layout title="Overview" admin={admin} section="overview">
      <h1>Overview</h1>
      <section aria-label="Counts">
        <div class="cards">
          {cards.map(([label, n, alert]) => (
            <div class={alert ? 'card alert' : 'card'}>
              <div class="n">{n}</div>
              <div class="l">{label}</div>
            </div>
          ))}
        </div>
      </section>
      <ActivityChart hours={hours} />
      <p class="muted">
        Failed logins in the last 24 hours: {counts.failedLogins}. Reuse detections mean a refresh token was presented after
        it had been rotated — a sign of theft; see the <a href="/console/audit?type=session.reuse_detected">audit trail</a>.
      </p>
    </Layout>
  )
}
