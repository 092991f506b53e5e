import type { ActivityHour } from '../audit/store'

const WIDTH = 1100
const HEIGHT = 200
const PAD = { left: 40, right: 10, top: 10, bottom: 24 }

const series = [
  { key: 'refreshes', label: 'Refreshes', color: '#0b5cad' },
  { key: 'logins', label: 'Logins', color: '#1a7f37' },
  { key: 'revocations', label: 'Revocations', color: '#9a6700' },
  { key: 'reuseDetections', label: 'Reuse detections', color: '#b42318' },
] as const

/**
 * Hourly activity of the last 24 hours as inline SVG: grouped bars, no script, no external
 * library. Each bar has a <title> (tooltip, read by screen readers); the 24-hour totals are
 * in the overview's cards.
 */
export function ActivityChart({ hours }: { hours: ActivityHour[] }) {
  const max = Math.max(1, ...hours.flatMap((h) => series.map((s) => h[s.key])))
  const plotWidth = WIDTH - PAD.left - PAD.right
  const plotHeight = HEIGHT - PAD.top - PAD.bottom
  const slot = plotWidth / Math.max(hours.length, 1)
  const bar = Math.max(1, (slot - 4) / series.length)
  const y = (v: number) => PAD.top + plotHeight - (v / max) * plotHeight
  return (
    <figure class="panel" aria-labelledby="chart-caption">
      <figcaption id="chart-caption">
        <strong>Last 24 hours</strong> <span class="muted">(events per hour, UTC)</span>
      </figcaption>
      <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="Bar chart of logins, refreshes, revocations and reuse detections per hour">
        <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(0)} y2={y(0)} stroke="#d0d7de" />
        <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(max)} y2={y(max)} stroke="#eef1f4" />
        <text x={PAD.left - 6} y={y(max) + 4} text-anchor="end">
          {max}
        </text>
        <text x={PAD.left - 6} y={y(0) + 4} text-anchor="end">
          0
        </text>
        {hours.map((hour, i) => (
          <g>
            {series.map((s, j) => {
              const value = hour[s.key]
              return value > 0 ? (
                <rect x={PAD.left + i * slot + 2 + j * bar} y={y(value)} width={bar} height={y(0) - y(value)} fill={s.color}>
                  <title>{`${s.label} ${hour.hourStart.toISOString().slice(11, 16)}: ${value}`}</title>
                </rect>
              ) : null
            })}
            {i % 3 === 0 && (
              <text x={PAD.left + i * slot + slot / 2} y={HEIGHT - 6} text-anchor="middle">
                {hour.hourStart.toISOString().slice(11, 16)}
              </text>
            )}
          </g>
        ))}
      </svg>
      <div class="legend" aria-hidden="true">
        {series.map((s) => (
          <span class={`series-${s.key}`}>{s.label}</span>
        ))}
      </div>
    </figure>
  )
}
