/** Durations: a number of milliseconds, or a string such as '250ms', '2s', '1.5s', '1m'. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Milliseconds, or an error message. */
export function parseDuration(v: unknown): number | string {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : `${v} is not a duration (a non-negative number of ms)`
  if (typeof v !== 'string') return `expected a duration (ms as a number, or a string like "250ms", "2s"), got ${typeof v}`
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v)
  if (!m) return `${JSON.stringify(v)} is not a duration; use a number of ms or a string like "250ms", "2s", "1m", "1h"`
  return Number(m[1]) * UNITS[m[2] ?? 'ms']!
}
