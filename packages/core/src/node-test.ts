/**
 * node:test support: `withFaults(t, cfg, fn)` arms cfg for fn inside test t.
 *
 *   import { test } from 'node:test'
 *   import { withFaults } from '@faultline/core/node-test'
 *   test('503 when the database refuses', async (t) => {
 *     await withFaults(t, { syscalls: [...] }, async (faults) => { ... })
 *   })
 *
 * A function taking the test context rather than a `t.faults` property: node:test has no
 * fixtures, so a property would mean patching every context through a global hook; an explicit
 * call needs no setup file and reads the same in `test()` and `it()`.
 *
 * Faults are per process. `node --test` runs each file in its own process, one test at a time,
 * so that is safe; a suite with `concurrency` above 1, or files sharing the runner's process
 * (`--test-isolation=none`, `--experimental-test-isolation=none`), would let one test's faults hit
 * another's code: refused, naming the setting.
 */
import path from 'node:path'
import createDebug from 'debug'
import {
  activeSession,
  exploreFailures,
  formatExploreReport,
  type ExploreFailuresOptions,
  type ExploreReport,
  FaultlineBusyError,
  FaultlineTimeoutError,
  FaultlineUnsupportedError,
  withFailureConfig,
  type ConfigSource,
  type FaultsHandle,
  type RuleStats,
} from './index.js'
import { formatFaultSummary, rulesOfStats } from './report/fault-summary.js'

const debug = createDebug('faultline:node-test')

/** The part of node:test's TestContext used here (Node 20 and later). */
export interface NodeTestContext {
  readonly name: string
  /** Node >= 22.3: the names of the enclosing suites and tests too. */
  readonly fullName?: string
  /** Aborted when the test ends early: timeout or cancellation. */
  readonly signal: AbortSignal
  skip(message?: string): void
}

export interface WithFaultsOptions {
  /** When the kernel, privileges or libbpf cannot serve the config: fail the test (default) or
   * mark it skipped with the reason; then fn is not called and withFaults resolves to undefined,
   * so keep the assertions about the fault inside fn. */
  onUnsupported?: 'fail' | 'skip'
  /** Fail the test when an armed rule never fired (default: only a warning in the summary). */
  failOnUnfired?: boolean
}

const ISOLATION_FLAGS = ['--test-isolation', '--experimental-test-isolation']

/** The flag that makes test files share the runner's process, when set; else undefined. */
export function sharedProcessSetting(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string | undefined {
  const args = [...execArgv, ...nodeOptions.split(/\s+/).filter(Boolean)]
  for (let i = 0; i < args.length; i++) {
    const [flag, value = args[i + 1]] = args[i]!.split('=', 2) as [string, string | undefined]
    if (ISOLATION_FLAGS.includes(flag) && value === 'none') return `${flag}=none`
  }
  return undefined
}

interface Armed {
  test: string
  context: NodeTestContext
  /** A test that asked for faults while this one was armed (its code ran under these faults). */
  crossedBy?: string
}

let armed: Armed | undefined
const summary: { test: string; stats: Record<string, RuleStats> }[] = []
const explored: { test: string; text: string }[] = []
let summaryHooked = false

/** Arms `config` for `fn` within test `t`; resolves to fn's value. Disarms when fn settles, and
 * when the test times out or is cancelled (t.signal), whichever comes first. */
export function withFaults<T>(t: NodeTestContext, config: ConfigSource, fn: (faults: FaultsHandle) => T | Promise<T>, options?: WithFaultsOptions & { onUnsupported?: 'fail' }): Promise<T>
export function withFaults<T>(t: NodeTestContext, config: ConfigSource, fn: (faults: FaultsHandle) => T | Promise<T>, options: WithFaultsOptions): Promise<T | undefined>
export async function withFaults<T>(
  t: NodeTestContext,
  config: ConfigSource,
  fn: (faults: FaultsHandle) => T | Promise<T>,
  options: WithFaultsOptions = {},
): Promise<T | undefined> {
  const name = t.fullName ?? t.name
  const shared = sharedProcessSetting()
  if (shared) {
    throw new FaultlineBusyError(
      `withFaults (test '${name}'): ${shared} runs every test file in one process, so the faults armed by one test ` +
        `would hit the code of tests running beside it. Run without ${shared} (each file in its own process, the default).`,
    )
  }
  if (armed && armed.context !== t) {
    armed.crossedBy = name
    throw new FaultlineBusyError(
      `withFaults (test '${name}'): test '${armed.test}' in this process is armed at the same time: node:test is running ` +
        `tests concurrently (a describe/test option \`concurrency\` above 1, or \`--test-concurrency\` with files sharing a ` +
        `process), and faults are per process. Set concurrency to 1 (the default) where tests use withFaults.`,
    )
  }
  if (t.signal.aborted) throw new FaultlineTimeoutError(`withFaults (test '${name}'): the test had already ended (${abortReason(t.signal)})`)
  hookSummary()

  const entry: Armed = { test: name, context: t }
  let handle: FaultsHandle | undefined
  let onAbort: (() => void) | undefined
  // The test's timeout or cancellation ends the armed window: node:test abandons the test's
  // promise, so fn may never settle and withFailureConfig's own disarm would never run.
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      const session = activeSession()
      if (session && handle && session.handle === handle) session.disarm()
      debug('test %s aborted while armed: disarmed', name)
      reject(new FaultlineTimeoutError(`withFaults (test '${name}'): the test ended while armed (${abortReason(t.signal)}); faults were disarmed`))
    }
    t.signal.addEventListener('abort', onAbort, { once: true })
  })
  aborted.catch(() => {})
  const outer = armed
  if (!outer) armed = entry
  try {
    const result = await Promise.race([withFailureConfig(config, (h) => ((handle = h), fn(h))), aborted])
    if (entry.crossedBy) {
      throw new FaultlineBusyError(
        `withFaults (test '${name}'): test '${entry.crossedBy}' ran in this process while this test was armed, so it ran ` +
          `under these faults: node:test runs tests concurrently here (\`concurrency\` above 1). Set concurrency to 1.`,
      )
    }
    const unfired = handle ? handle.rules.filter((r) => handle!.fired(r) === 0) : []
    if (options.failOnUnfired && unfired.length) {
      throw new Error(`faultline: rule(s) ${unfired.join(', ')} never fired: the failure path this test is about was never taken (failOnUnfired)`)
    }
    return result
  } catch (err) {
    if (err instanceof FaultlineUnsupportedError && options.onUnsupported === 'skip') {
      // Resolve rather than throw: Node 20 exits 1 when a test that called t.skip() then throws.
      t.skip(`faultline: ${err.message}`)
      return undefined
    }
    throw err
  } finally {
    t.signal.removeEventListener('abort', onAbort!)
    if (armed === entry) armed = undefined
    if (handle) summary.push({ test: name, stats: handle.stats() })
  }
}

/** exploreFailures (README "Explore") within test t: the report joins the summary at exit. */
export async function exploreFaults(t: NodeTestContext, config: ConfigSource, fn: (faults: FaultsHandle) => unknown, options?: ExploreFailuresOptions): Promise<ExploreReport> {
  hookSummary()
  const report = await exploreFailures(config, fn, options)
  explored.push({ test: t.fullName ?? t.name, text: formatExploreReport(report, '  ') })
  return report
}

function abortReason(signal: AbortSignal): string {
  const r = signal.reason as { message?: string } | undefined
  return r?.message ?? String(r ?? 'aborted')
}

/** The summary the other adapters give, once per process (= per test file) at exit, on stderr. */
function hookSummary(): void {
  if (summaryHooked) return
  summaryHooked = true
  process.once('exit', () => {
    const text = [formatSummary(summary), ...explored.map((e) => `  ${e.test}: ${e.text}`)].filter(Boolean).join('\n')
    if (text) process.stderr.write(`\nfaultline (${path.basename(process.argv[1] ?? 'node')}):\n${text}\n`)
  })
}

/** Per armed window: each rule's fired count and a warning for rules that never fired. */
export function formatSummary(records: readonly { test: string; stats: Record<string, RuleStats> }[]): string {
  return records.flatMap(({ test, stats }) => formatFaultSummary(test, rulesOfStats(stats))).join('\n')
}
