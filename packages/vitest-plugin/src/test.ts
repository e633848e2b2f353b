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

export interface FaultsFixture {
  /** Arms `config` for `fn`; resolves to fn's value. */
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
        // The report and failOnUnfired cover every arming of the test: see setup.ts.
        try {
          // The test's own timeout also bounds the armed window.
          return await withFailureConfig(config, (h) => ((last = h), fn(h)), { timeout: task.timeout || undefined })
        } catch (err) {
          if (err instanceof FaultlineUnsupportedError && options.onUnsupported === 'skip') {
            task.meta.skipReason = `faultline: ${err.message}`
            skip(`faultline: ${err.message}`)
          }
          throw err
        }
      },
    }
    await use(fixture)
  },
})

/** A test whose whole body runs under `config` (an object or a YAML path). The body gets the
 * fixture and the task (Vitest reads fixtures from the destructured parameter). */
export function faultTest(config: ConfigSource) {
  return (name: string, fn: (ctx: { faults: FaultsFixture; task: TestContext['task'] }) => unknown, timeout?: number) =>
    test(name, ({ faults, task }) => faults.with(config, () => fn({ faults, task })), timeout)
}

export { expect, describe, beforeAll, afterAll, beforeEach, afterEach } from 'vitest'
