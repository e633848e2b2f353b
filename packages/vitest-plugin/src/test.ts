/**
 * The test API: a `faults` fixture (`faults.with(cfg, fn)` arms for part of a test) and
 * `faultTest(cfg)` (a test whose whole body runs under a config).
 *
 *   import { test, faultTest } from '@faultline/vitest-plugin/test'
 *   test('retries', async ({ faults }) => { await faults.with(cfg, async (f) => { ... }) })
 *   faultTest('faults/db-down.yaml')('answers 503', async ({ faults }) => { ... })
 */
import { test as base, inject, type TestContext } from 'vitest'
import { FaultlineUnsupportedError, withFailureConfig, type ConfigSource, type FaultsHandle } from '@faultline/core'
import type { FaultRecord } from './options.js'

export interface FaultsFixture {
  /** Arms `config` for `fn`; resolves to fn's value. Records the counters for the report. */
  with<T>(config: ConfigSource, fn: (faults: FaultsHandle) => T | Promise<T>): Promise<T>
  /** The handle of the last `with` (its counters stay readable after it returns). */
  readonly last: FaultsHandle | undefined
}

export const test = base.extend<{ faults: FaultsFixture }>({
  // eslint-disable-next-line no-empty-pattern
  faults: async ({ task, skip }, use) => {
    const options = inject('faultlineOptions') ?? {}
    let last: FaultsHandle | undefined
    const fixture: FaultsFixture = {
      get last() {
        return last
      },
      async with(config, fn) {
        let result
        try {
          // The test's own timeout also bounds the armed window.
          result = await withFailureConfig(config, (h) => ((last = h), fn(h)), { timeout: task.timeout || undefined })
        } catch (err) {
          if (err instanceof FaultlineUnsupportedError && options.onUnsupported === 'skip') {
            task.meta.skipReason = `faultline: ${err.message}`
            skip(`faultline: ${err.message}`)
          }
          throw err
        } finally {
          if (last) record(task.meta, last)
        }
        const unfired = last ? last.rules.filter((r) => last!.fired(r) === 0) : []
        if (options.failOnUnfired && unfired.length) {
          throw new Error(`faultline: rule(s) ${unfired.join(', ')} never fired: the failure path this test is about was never taken (failOnUnfired)`)
        }
        return result
      },
    }
    await use(fixture)
  },
})

function record(meta: { faultline?: FaultRecord[] }, handle: FaultsHandle): void {
  const stats = handle.stats()
  meta.faultline = [
    ...(meta.faultline ?? []),
    ...Object.entries(stats).map(([rule, s]) => ({ rule, syscall: s.syscall, mechanism: s.mechanism, fired: s.fired })),
  ]
}

/** A test whose whole body runs under `config` (an object or a YAML path). The body gets the
 * fixture and the task (Vitest reads fixtures from the destructured parameter). */
export function faultTest(config: ConfigSource) {
  return (name: string, fn: (ctx: { faults: FaultsFixture; task: TestContext['task'] }) => unknown, timeout?: number) =>
    test(name, ({ faults, task }) => faults.with(config, () => fn({ faults, task })), timeout)
}

export { expect, describe, beforeAll, afterAll, beforeEach, afterEach } from 'vitest'
