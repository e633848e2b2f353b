/** Durations: a number of milliseconds, or a string such as '250ms', '2s', '1.5s', '1m'. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** The longest duration a config may give: a day (the kernel side counts ns in 64 bits, tc in 32-bit us). */
export const MAX_DURATION_MS = 24 * 3_600_000

/** Milliseconds, or an error message. */
export function parseDuration(v: unknown): number | string {
  let ms: number
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) return `${v} is not a duration (a non-negative number of ms)`
    ms = v
  } else if (typeof v !== 'string') {
    return `expected a duration (ms as a number, or a string like "250ms", "2s"), got ${typeof v}`
  } else {
    const m = v.length <= 64 ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v) : null
    if (!m) return `${JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}...` : v)} is not a duration; use a number of ms or a string like "250ms", "2s", "1m", "1h"`
    ms = Number(m[1]) * UNITS[m[2] ?? 'ms']!
  }
  return ms <= MAX_DURATION_MS ? ms : `${typeof v === 'string' ? JSON.stringify(v) : v} is longer than the longest duration, 24h`
}
