/** `2026-11-24 12:00:05 UTC`: one unambiguous format for every date the console shows. */
export function formatInstant(date: Date | null | undefined): string {
  if (!date) return '—'
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

export function formatList(values: readonly string[]): string {
  return values.length ? values.join(', ') : '—'
}
