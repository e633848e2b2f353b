/**
 * faultline(options): the Vitest plugin. It only adapts Vitest's life cycle: forks pool (one
 * process per test file, so faults never cross files), a setup file with a disarm backstop,
 * the options provided to workers, and the report. The work is in @faultline/core.
 */
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'vite'
import { FaultlineReporter } from './reporter.js'
import type { FaultlinePluginOptions } from './options.js'

export type { FaultlinePluginOptions, FaultRecord } from './options.js'
export { FaultlineReporter } from './reporter.js'

const SINGLE_PROCESS_POOLS = ['threads', 'vmThreads']

interface TestConfig {
  pool?: string
  reporters?: unknown
}

export function faultline(options: FaultlinePluginOptions = {}): Plugin {
  return {
    name: 'faultline',
    config(config) {
      const test = (config as { test?: TestConfig }).test ?? {}
      if (test.pool && SINGLE_PROCESS_POOLS.includes(test.pool) && options.pool !== 'switch') {
        throw new Error(
          `@faultline/vitest-plugin: pool '${test.pool}' runs test files as threads of one process, so the faults armed ` +
            `by one file would hit every other file running at the same time. Use pool: 'forks' (one process per file), ` +
            `or faultline({ pool: 'switch' }) to switch automatically.`,
        )
      }
      const reporters = options.report === false ? [] : [new FaultlineReporter(options)]
      return {
        test: {
          pool: 'forks',
          setupFiles: [fileURLToPath(new URL('./setup.js', import.meta.url))],
          provide: { faultlineOptions: options },
          // Keep Vitest's default reporter when the user configured none.
          reporters: test.reporters ? reporters : ['default', ...reporters],
        },
      } as Record<string, unknown>
    },
  }
}

export default faultline
