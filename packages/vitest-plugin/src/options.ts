import type { RuleFired } from '@faultline/core/report'
/** Options of @faultline/vitest-plugin, passed from the config to the workers with `provide`. */
export interface FaultlinePluginOptions {
  /** When the kernel, privileges or libbpf cannot serve a config: fail the test (default) or
   * report it as skipped with the reason. Never passed. */
  onUnsupported?: 'fail' | 'skip'
  /** Fail a test in which an armed rule never fired (default: only warn in the report). */
  failOnUnfired?: boolean
  /** With pool 'threads' or 'vmThreads': refuse (default) or switch to 'forks'. */
  pool?: 'refuse' | 'switch'
  /** Print the faultline section of the report (default true). */
  report?: boolean
  /**
   * Keep faultline's links attached between tests, for the life of each worker (default false:
   * each window attaches what it needs and detaches it). Arming is then cheaper, but every process
   * on the machine pays for the kept hooks between tests (a UDP connect() ~1.3x slower): see the
   * core's README, "What a bystander pays". The same as FAULTLINE_KEEP_LINKS=on in the workers.
   */
  keepLinks?: boolean
}

/** What the fixture records on each test (task.meta.faultline), for the reporter. */
export type FaultRecord = RuleFired

declare module 'vitest' {
  interface ProvidedContext {
    faultlineOptions: FaultlinePluginOptions
  }
  interface TaskMeta {
    faultline?: FaultRecord[]
    /** exploreFailures reports of the test, formatted by the core. */
    faultlineExplore?: string[]
    skipReason?: string
  }
}
