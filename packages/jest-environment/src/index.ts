/**
 * @faultline/jest-environment: Jest's Node environment plus faultline. Thin: it maps Jest's life
 * cycle onto @faultline/core.
 *   - `faultline.with(cfg, fn)`, a global, arms a config for part of a test;
 *   - a docblock pragma `@faultline-config ./faults/x.yaml` (or testEnvironmentOptions.faultline.config)
 *     arms a config around every test of the file;
 *   - onUnsupported 'fail' | 'skip', failOnUnfired, and a summary printed at the end of the file,
 *     covering every arming of a test, whichever API made it (also withFailureConfig from a
 *     test's own require('@faultline/core'), a second copy of the core in the test's realm);
 *   - refuses Jest's `workerThreads: true`: test files would be threads of one process, and one
 *     file's faults would hit every file running beside it.
 */
import path from 'node:path'
import { isMainThread } from 'node:worker_threads'
import { TestEnvironment as NodeEnvironment } from 'jest-environment-node'
import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment'
import type { Circus } from '@jest/types'
import createDebug from 'debug'
import {
  arm, disarmActive, formatExploreReport, formatFaultSummary, observeArmings, observeExplorations, resolveConfig, rulesFired, underTcLock, withFailureConfig, FaultlineUnsupportedError,
  type ConfigSource, type FaultsHandle, type Session,
} from '@faultline/core'

const debug = createDebug('faultline:jest')

export interface FaultlineJestOptions {
  /** A config for every test of every file (object or YAML path); a docblock pragma overrides it. */
  config?: ConfigSource
  onUnsupported?: 'fail' | 'skip'
  failOnUnfired?: boolean
  /** Print the per-test summary at the end of each file (default true). */
  summary?: boolean
  /**
   * Keep faultline's links attached between tests, for the worker's life (default false). Cheaper
   * arming, but every process on the machine pays for the kept hooks between tests (README: "What
   * a bystander pays"). The same as FAULTLINE_KEEP_LINKS=on; the environment variable, when set, wins.
   */
  keepLinks?: boolean
}

export default class FaultlineEnvironment extends NodeEnvironment {
  private readonly options: FaultlineJestOptions
  private readonly fileConfig: ConfigSource | undefined
  private unsupported: string | undefined
  private session: Session | undefined
  /** The summary's lines, printed at the end of the file. */
  private readonly lines: string[] = []
  private readonly testPath: string
  /** Armings of the running test, from any copy of the core. */
  private armed: FaultsHandle[] = []
  private readonly unobserve: () => void

  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    if (!isMainThread || (config.globalConfig as { workerThreads?: boolean }).workerThreads) {
      throw new Error(
        '@faultline/jest-environment: Jest\'s `workerThreads: true` runs test files as threads of one process, so the faults ' +
          'armed by one file would hit every other file running at the same time. Remove `workerThreads: true` (the default ' +
          'child-process workers give each file its own process).',
      )
    }
    // Before super(): the test realm's process.env is a copy made there, and a core the tests
    // require() reads that copy.
    const keepLinks = (config.projectConfig.testEnvironmentOptions?.faultline as FaultlineJestOptions | undefined)?.keepLinks
    if (keepLinks && process.env.FAULTLINE_KEEP_LINKS === undefined) process.env.FAULTLINE_KEEP_LINKS = 'on'
    super(config, context)
    this.testPath = context.testPath
    const unobserveArmings = observeArmings((h) => this.armed.push(h))
    const unobserveExplorations = observeExplorations((r) => this.lines.push(`  ${this.current}: ${formatExploreReport(r, '  ')}`))
    this.unobserve = () => (unobserveArmings(), unobserveExplorations())
    this.options = (config.projectConfig.testEnvironmentOptions?.faultline ?? {}) as FaultlineJestOptions
    const pragma = context.docblockPragmas['faultline-config']
    const fromPragma = Array.isArray(pragma) ? pragma[0] : pragma
    this.fileConfig = fromPragma ? path.resolve(path.dirname(context.testPath), fromPragma) : this.options.config
    debug('environment for %s, file config %s', context.testPath, this.fileConfig)
    this.global.faultline = { with: <T>(cfg: ConfigSource, fn: (f: FaultsHandle) => T | Promise<T>) => this.runWith(cfg, fn) }
  }

  override async setup(): Promise<void> {
    await super.setup()
    if (!this.fileConfig) return
    // Learn now whether the file's config can be served, so tests can be skipped before they run.
    try {
      const config = resolveConfig(this.fileConfig)
      await underTcLock(() => arm(config).disarm())
    } catch (err) {
      if (!(err instanceof FaultlineUnsupportedError)) throw err
      this.unsupported = err.message
    }
  }

  private current = ''

  private async runWith<T>(cfg: ConfigSource, fn: (f: FaultsHandle) => T | Promise<T>): Promise<T> {
    try {
      return await withFailureConfig(cfg, fn)
    } catch (err) {
      if (err instanceof FaultlineUnsupportedError && this.options.onUnsupported === 'skip') {
        // Jest cannot skip a running test: fail it, saying it would have been skipped, never pass it.
        throw new Error(`faultline: cannot run here, and Jest cannot skip a test once it runs (use the docblock pragma to skip whole files): ${err.message}`)
      }
      throw err
    }
  }

  /** Adds the test's armings to the summary; returns the rules that never fired. */
  private record(handles: FaultsHandle[]): string[] {
    const unfired: string[] = []
    for (const h of handles) {
      const rules = rulesFired(h)
      unfired.push(...rules.filter((r) => r.fired === 0).map((r) => r.rule))
      this.lines.push(...formatFaultSummary(this.current, rules))
    }
    return unfired
  }

  async handleTestEvent(event: Circus.Event, state: Circus.State): Promise<void> {
    switch (event.name) {
      case 'add_test':
        if (this.unsupported && this.options.onUnsupported === 'skip') {
          const added = state.currentDescribeBlock.children.at(-1)
          if (added?.type === 'test') added.mode = 'skip'
        }
        break
      case 'test_start':
        this.current = testName(event.test)
        this.armed = []
        break
      case 'test_fn_start':
        if (this.fileConfig) {
          try {
            const config = resolveConfig(this.fileConfig)
            this.session = await underTcLock(() => arm(config)) // waits for another worker's tc changes without blocking
          } catch (err) {
            event.test.errors.push(err instanceof Error ? err.message : String(err))
          }
        }
        break
      case 'test_fn_success':
      case 'test_fn_failure': {
        const session = this.session
        if (session) await underTcLock(() => session.disarm())
        this.session = undefined
        const unfired = this.record(this.armed.splice(0))
        if (this.options.failOnUnfired && unfired.length) event.test.errors.push(`faultline: rule(s) ${unfired.join(', ')} never fired (failOnUnfired)`)
        break
      }
      case 'test_done':
        disarmActive() // backstop: a timed-out test never reaches its own disarm
        break
      case 'teardown':
        this.unobserve()
        this.printSummary()
        break
    }
  }

  private printSummary(): void {
    if (this.options.summary === false) return
    const out: string[] = []
    if (this.unsupported) out.push(`  ${this.options.onUnsupported === 'skip' ? 'skipped every test' : 'failed every test'}: ${this.unsupported}`)
    out.push(...this.lines)
    if (!out.length) return
    debug('summary of %d line(s)', out.length)
    process.stderr.write(`\nfaultline (${path.basename(this.testPath)}):\n${out.join('\n')}\n`)
  }
}

function testName(test: Circus.TestEntry): string {
  const names: string[] = []
  for (let t: Circus.TestEntry | Circus.DescribeBlock | undefined = test; t && t.name !== 'ROOT_DESCRIBE_BLOCK'; t = t.parent) names.unshift(t.name)
  return names.join(' > ')
}

export { FaultlineEnvironment as TestEnvironment }
