/**
 * exploreFailures(cfg, fn): fn once with every syscall and network rule counting only (the census),
 * then once per matching call (a network rule: connection) with only that one failed, each under withFailureConfig. Returns the report;
 * the adapters print it (observe.ts).
 */
import createDebug from 'debug'
import { withArmedSession, resolveConfig, type ConfigSource } from '../with-failure-config.js'
import type { Session } from '../engine/session.js'
import { planExploreRuns } from './sites.js'
import { FaultlineTimeoutError } from '../engine/errors.js'
import type { FaultsHandle } from '../engine/handle.js'
import { withArmingsMuted } from '../engine/armings.js'
import { censusConfig, classify, runConfig } from './plan.js'
import { announceExploration } from './observe.js'
import type { ExploreReport, ExploreRun } from './types.js'

const debug = createDebug('faultline:explore')

export interface ExploreFailuresOptions {
  /** At most this many failing runs in all (default 100); the rest are counted in `skipped`. */
  maxRuns?: number
  /** Per run, in ms: past it the faults are disarmed and the run is `hung` (fn is abandoned, not stopped). Default: none. */
  timeout?: number
  /** Explore only these rules (default: every syscall and network rule). */
  rules?: string[]
  /**
   * 'call' (default): fail each matching call in turn. 'site': only the first call of each distinct
   * user call stack the census saw (README "Explore", by call site).
   */
  by?: 'call' | 'site'
}

/** The census run (nothing failed) rejected: exploring needs code that passes when nothing fails. */
export class ExploreCensusError extends Error {
  override readonly name = 'ExploreCensusError'
}

type Fn = (faults: FaultsHandle) => unknown

/** fn under `source`, with the handle it got (undefined when arming itself threw). */
async function once(source: ConfigSource, fn: Fn, timeout: number | undefined, callSites = false) {
  let handle: FaultsHandle | undefined
  let session: Session | undefined
  const t0 = performance.now()
  try {
    await withArmedSession(source, (h) => ((handle = h), fn(h)), { timeout }, { callSites }, (s) => (session = s))
    return { ok: true as const, handle, session, ms: performance.now() - t0 }
  } catch (error) {
    if (!handle) throw error // not armed: unsupported, busy, invalid; not an outcome
    return { ok: false as const, handle, session, error, ms: performance.now() - t0 }
  }
}

/** What a rejection says about a child process (child_process errors carry `code` and `signal`). */
function childEnd(error: unknown): { exitCode: number | null; signal: string | null } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; status?: unknown; signal?: unknown }
  const code = typeof e.code === 'number' ? e.code : typeof e.status === 'number' ? e.status : null
  return { exitCode: code, signal: typeof e.signal === 'string' ? e.signal : null }
}

export async function exploreFailures(source: ConfigSource, fn: Fn, options: ExploreFailuresOptions = {}): Promise<ExploreReport> {
  const config = resolveConfig(source)
  const rules = [...config.syscalls, ...config.network].filter((r) => !options.rules || options.rules.includes(r.name))
  if (!rules.length) throw new Error(`exploreFailures: no syscall or network rule to explore${options.rules ? ` among ${options.rules.join(', ')}` : ''} (DNS rules are not explored)`)
  const report = await withArmingsMuted(async () => {
    const bySite = options.by === 'site'
    const census = await once(censusConfig(config, rules), fn, options.timeout, bySite)
    if (!census.ok) {
      throw new ExploreCensusError(`exploreFailures: the census run (no call failed) rejected: ${(census.error as Error)?.message ?? String(census.error)}`, { cause: census.error })
    }
    const stats = census.handle!.stats()
    const counts = Object.fromEntries(rules.map((r) => [r.name, stats[r.name]?.eligible ?? 0]))
    debug('census %o', counts)
    const plan = planExploreRuns(rules, counts, bySite ? 'site' : 'call', census.session?.callSites(), options.maxRuns ?? 100)
    const runs: ExploreRun[] = []
    for (const p of plan.runs) {
      const cfg = runConfig(config, rules.find((r) => r.name === p.rule)!, p.nth)
      const r = await once(cfg, fn, options.timeout)
      const fired = r.handle!.stats()[p.rule]?.fired ?? 0
      const end = r.ok ? { exitCode: null, signal: null } : childEnd(r.error)
      const timedOut = !r.ok && r.error instanceof FaultlineTimeoutError
      const outcome = classify({ code: r.ok ? 0 : (end.exitCode ?? 1), signal: end.signal, timedOut, fired })
      runs.push({ rule: p.rule, nth: p.nth, fired, outcome, ...end, ms: r.ms, config: cfg, ...(r.ok ? {} : { error: r.error }), ...(p.site ? { site: p.site } : {}) })
      debug('%s nth %d: %s', p.rule, p.nth, outcome)
    }
    return { census: counts, runs, skipped: plan.skipped, by: bySite ? ('site' as const) : ('call' as const), ...(bySite ? { byCall: plan.byCall } : {}) }
  })
  announceExploration(report)
  return report
}
