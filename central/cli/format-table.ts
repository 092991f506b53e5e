/** A column of a table: its header and how to read the cell from a row. */
export interface Column<T> {
  header: string
  value: (row: T) => unknown
}

/**
 * A plain-text table for terminals: one header line, columns padded to their widest cell,
 * no box drawing (so `grep`/`awk` still work on the output).
 */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => formatCell(column.value(row))))
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]!.length)))
  const render = (line: string[]) =>
    line
      .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [render(columns.map((c) => c.header.toUpperCase())), ...cells.map(render)].join('\n')
}

/** Key/value lines for one record (`users show`). */
export function formatRecord(entries: readonly [string, unknown][]): string {
  const width = Math.max(...entries.map(([key]) => key.length))
  return entries.map(([key, value]) => `${`${key}:`.padEnd(width + 1)}  ${formatCell(value)}`).join('\n')
}

export function formatCell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-'
  if (Array.isArray(value)) return value.length ? value.map(formatCell).join(',') : '-'
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value).replace(/[\u0000-\u001f\u007f]/g, ' ')
}
