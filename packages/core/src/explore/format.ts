/** What an exploration prints: the CLI's table rows and final list, the adapters' summary, the JSON. */
import { stringify } from 'yaml'
import type { ExploreReport, ExploreRun } from './types.js'

const COLUMNS = ['run', 'rule', 'nth', 'outcome', 'status', 'fired', 'ms'] as const

/** The status column: the exit code, the signal, or '-' (fn resolved, or killed for hanging). */
export function statusText(run: Pick<ExploreRun, 'exitCode' | 'signal' | 'outcome'>): string {
  if (run.outcome === 'hung') return 'timeout'
  return run.signal ? run.signal : run.exitCode !== null ? `exit ${run.exitCode}` : '-'
}

/** The site column: the site's number and how many census calls came from it. */
const siteText = (r: ExploreRun) => (r.site ? `${r.site.index} (${r.site.calls}x)` : '-')

/** Column widths for a table whose rule names are `rules`; with `bySite`, a site column. */
export function tableHeader(rules: readonly string[], bySite = false): { header: string; row(index: number, total: number, run: ExploreRun): string } {
  const ruleWidth = Math.max(4, ...rules.map((r) => r.length))
  const cells = (c: string[]) =>
    [c[0]!.padStart(9), c[1]!.padEnd(ruleWidth), c[2]!.padStart(5), ...(bySite ? [c[7]!.padEnd(10)] : []), c[3]!.padEnd(11), c[4]!.padEnd(9), c[5]!.padStart(5), c[6]!.padStart(7)].join('  ')
  return {
    header: cells([...COLUMNS, 'site']),
    row: (i, total, r) => cells([`${i}/${total}`, r.rule, String(r.nth), r.outcome, statusText(r), String(r.fired), String(Math.round(r.ms)), siteText(r)]),
  }
}

/** The YAML to paste into a test (or `faultline run -c`) to reproduce a run. */
export function reproYaml(run: ExploreRun): string {
  return stringify(run.config)
}

const notHandled = (report: ExploreReport) => report.runs.filter((r) => r.outcome !== 'handled')

function counts(report: ExploreReport): string {
  const by = new Map<string, number>()
  for (const r of report.runs) by.set(r.outcome, (by.get(r.outcome) ?? 0) + 1)
  return [...by].map(([o, n]) => `${n} ${o}`).join(', ') || 'no runs'
}

const censusText = (report: ExploreReport) => Object.entries(report.census).map(([r, n]) => `${r} matched ${n}x`).join(', ')

/** The CLI's closing text: totals, then each run that was not handled with the config reproducing it
 * and the last lines of its stderr (`stderrOf`). */
export function formatFindings(report: ExploreReport, stderrOf: (run: ExploreRun) => string = () => ''): string {
  const lines = [`census: ${censusText(report)}; ${report.runs.length} run(s): ${counts(report)}${report.skipped ? `; ${report.skipped} left out by --max-runs` : ''}`]
  for (const r of notHandled(report)) {
    const site = r.site ? ` (call site ${r.site.index}, ${r.site.calls} call(s) in the census${r.site.frames.length ? `; stack ${r.site.frames.slice(0, 4).join(' ')}` : ''})` : ''
    lines.push('', `${r.rule} nth ${r.nth}${site}: ${r.outcome} (${statusText(r)}); reproduce with:`, ...reproYaml(r).trimEnd().split('\n').map((l) => `  ${l}`))
    const tail = stderrOf(r).trimEnd().split('\n').filter(Boolean).slice(-3)
    if (tail.length) lines.push('  # its stderr ended with:', ...tail.map((l) => `  #   ${l}`))
  }
  return lines.join('\n')
}

/** The adapters' lines for one exploration, beside their fault summary; `indent` goes before every line but the first. */
export function formatExploreReport(report: ExploreReport, indent = ''): string {
  const by = report.by === 'site' ? ' by call site' : ''
  const lines = [`explore${by}: ${censusText(report)}; ${report.runs.length} run(s): ${counts(report)}${report.skipped ? `, ${report.skipped} left out by maxRuns` : ''}`]
  for (const r of notHandled(report)) {
    const why = r.error instanceof Error ? `: ${r.error.message.split('\n')[0]}` : ''
    const status = statusText(r)
    const site = r.site ? ` (site ${r.site.index} of ${r.site.calls} call(s))` : ''
    lines.push(`${indent}  ${r.rule} nth ${r.nth}${site}: ${r.outcome}${status === '-' ? '' : ` (${status})`}${why}; reproduce with when: { nth: ${r.nth} }`)
  }
  return lines.join('\n')
}

/** The `--json` object: { census, runs: [{ rule, nth, fired, outcome, exitCode, signal, ms, config, site? }], skipped, by, byCall? }. */
export function exploreJson(report: ExploreReport): object {
  return {
    census: report.census,
    runs: report.runs.map(({ rule, nth, fired, outcome, exitCode, signal, ms, config, site }) => ({ rule, nth, fired, outcome, exitCode, signal, ms: Math.round(ms), config, ...(site ? { site } : {}) })),
    skipped: report.skipped,
    by: report.by ?? 'call',
    ...(report.byCall && Object.keys(report.byCall).length ? { byCall: report.byCall } : {}),
  }
}
