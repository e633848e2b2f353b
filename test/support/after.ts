/**
 * Judging `when.after` by the clock of the process that made the calls, not by how fast the
 * machine ran them. Every time here is CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(),
 * of Node's process.hrtime.bigint() and of a C child's clock_gettime(CLOCK_MONOTONIC).
 *
 * The kernel counts `after` from a start it never reports (the arming, or a process's exec);
 * the test only knows it lies in [start.earliest, start.latest]. A call made between `before`
 * and `after` by the caller's clock is then
 *  - surely early when after - start.earliest < delay: it must succeed;
 *  - surely late when before - start.latest >= delay: it must fail;
 *  - undecided otherwise (either answer is right).
 * A run decides when it has at least one surely early and one surely late call; on a machine
 * so busy that the first call came too late, the caller retries with a longer delay.
 */
export interface TimedCall {
  result: string
  before: bigint
  after: bigint
}

export interface AfterVerdict {
  early: number
  late: number
  /** Calls whose result contradicts `after`, described. */
  wrong: string[]
  decided: boolean
}

export function judgeAfter(calls: TimedCall[], start: { earliest: bigint; latest: bigint }, delayMs: number, failure: string): AfterVerdict {
  const delay = BigInt(Math.round(delayMs * 1e6))
  const ms = (ns: bigint) => `${(Number(ns) / 1e6).toFixed(1)} ms`
  const out: AfterVerdict = { early: 0, late: 0, wrong: [], decided: false }
  calls.forEach((c, i) => {
    if (c.after - start.earliest < delay) {
      out.early++
      if (c.result !== 'ok') out.wrong.push(`call ${i} at most ${ms(c.after - start.earliest)} after the start got ${c.result}, before after=${delayMs}ms`)
    } else if (c.before - start.latest >= delay) {
      out.late++
      if (c.result !== failure) out.wrong.push(`call ${i} at least ${ms(c.before - start.latest)} after the start got ${c.result}, not ${failure}`)
    }
  })
  // Once eligible, a call stays eligible: no success after a failure (no `times` in these rules).
  const firstFail = calls.findIndex((c) => c.result === failure)
  if (firstFail >= 0 && calls.slice(firstFail).some((c) => c.result !== failure)) out.wrong.push(`a call succeeded after the first failure: ${calls.map((c) => c.result).join(',')}`)
  out.decided = out.early > 0 && out.late > 0
  return out
}

/** Parses fl-files open-until output. */
export function parseTimedCalls(json: { start: string; calls: [string, string, string][] }): { start: bigint; calls: TimedCall[] } {
  return { start: BigInt(json.start), calls: json.calls.map(([result, b, a]) => ({ result, before: BigInt(b), after: BigInt(a) })) }
}

/** The delays tried in turn until a run decides: 400 ms on an idle machine, more when busy. */
export const AFTER_DELAYS_MS = [400, 2000, 8000]
