/**
 * `faultline cleanup [--json]`: removes what faultline processes that died while armed left in
 * this network namespace (cls_bpf filters, clsact qdiscs faultline created, htb `fa17:` qdiscs,
 * flifb IFB devices, records). A CI `post` / `if: always()` step for jobs whose tests were killed.
 * Never touches what a live faultline process holds. Exit status 1 if something could not be removed.
 */
import { cleanupLeftovers, underTcLock } from '../engine/state/index.js'
import { parseFlags, UsageError } from './args.js'

export const CLEANUP_USAGE = 'cleanup [--json]                        remove what killed faultline processes left (qdiscs, tc filters, IFB devices)'

export async function cleanupCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, CLEANUP_USAGE)
  if (values.help) {
    console.log(`usage: faultline ${CLEANUP_USAGE}`)
    return 0
  }
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, CLEANUP_USAGE)
  // The sweep holds the tc lock: wait for it without blocking (a privileged faultline may be arming).
  const report = await underTcLock(cleanupLeftovers)
  if (values.json) {
    console.log(JSON.stringify(report, null, 2))
  } else {
    if (!report.removed.length) console.log('nothing left by dead faultline processes')
    for (const r of report.removed) console.log(`removed ${r.kind} on ${r.where} (owner ${r.owner})`)
    for (const e of report.errors) console.error(`could not: ${e}`)
  }
  return report.errors.length ? 1 : 0
}
