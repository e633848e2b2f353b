/** The faultline section of Vitest's report: per test, the rules armed and how often each fired,
 * and a warning for rules that never fired (a failure path that never failed proves nothing). */
import type { Reporter, TestModule, Vitest } from 'vitest/node'
// The formatter alone (a subpath): the reporter runs in Vitest's main process, which arms nothing.
import { formatFaultSummary } from '@faultline/core/report'
import type { FaultlinePluginOptions, FaultRecord } from './options.js'

export class FaultlineReporter implements Reporter {
  private vitest: Vitest | undefined
  constructor(private readonly options: FaultlinePluginOptions = {}) {}

  onInit(vitest: Vitest): void {
    this.vitest = vitest
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = []
    let unfired = 0
    for (const mod of testModules) {
      for (const tc of mod.children.allTests()) {
        const meta = tc.meta() as { faultline?: FaultRecord[]; faultlineExplore?: string[]; skipReason?: string }
        if (meta.skipReason?.startsWith('faultline:')) {
          lines.push(`  ${mod.moduleId.replace(`${process.cwd()}/`, '')} > ${tc.fullName}: skipped: ${meta.skipReason.slice('faultline: '.length)}`)
        }
        const where = `${mod.moduleId.replace(`${process.cwd()}/`, '')} > ${tc.fullName}`
        for (const e of meta.faultlineExplore ?? []) lines.push(`  ${where}: ${e}`)
        const records = meta.faultline
        if (!records?.length) continue
        lines.push(...formatFaultSummary(where, records, { failOnUnfired: this.options.failOnUnfired }))
        unfired += records.filter((r) => r.fired === 0).length
      }
    }
    if (!lines.length) return
    const log = (s: string) => (this.vitest ? this.vitest.logger.log(s) : console.log(s))
    log(`\nfaultline: faults armed per test${unfired ? ` (${unfired} rule(s) never fired)` : ''}`)
    for (const l of lines) log(l)
  }
}
