// Every skip reason is checked against what its machine is expected to have (KERNELS[k].expect
// and the machine conditions below). A reason names what decided the skip, in one of two forms:
//   "requires lsm: ...", "requires one of lsm|tcx: ...", "needs root to ...": skipped for lacking
//     it; wrong where the machine is expected to have it (any of them, for "one of").
//   "this kernel has netem, tcx: ...": skipped because it has them (a refusal that runs on the
//     kernels without them); wrong where the machine is not expected to have one of them.
// Any other reason, or a name that is neither a feature nor a condition below, is unknown: wrong.
import { FEATURES } from '../../packages/core/dist/index.js'
import { KERNELS } from './kernels.mjs'

/**
 * Conditions of the machine rather than the kernel, expected everywhere the suite runs (host and
 * VMs, as root, with util-linux, iproute2, tmux and the tun module; [::1]:53 free): a test
 * skipped for one of them fails the run. runc is per kernel (KERNELS[k].expect).
 */
export const MACHINE_CONDITIONS = ['root', 'unshare', 'setpriv', 'tun', 'tmux', 'ipv6-dns-port', 'kernel-name']
const KNOWN = new Set([...FEATURES, 'runc', ...MACHINE_CONDITIONS])

/** What the named machine is expected to have: its features, and the machine conditions. */
export function expectedOn(kernel) {
  const k = KERNELS[kernel]
  if (!k) throw new Error(`no kernel "${kernel}" in test/vm/kernels.mjs (known: ${Object.keys(KERNELS).join(', ')})`)
  return new Set([...k.expect, ...MACHINE_CONDITIONS])
}

/** Why a skip with this reason is wrong on a machine expected to have `expected`, or undefined when it is right. */
export function wrongSkip(reason, expected) {
  if (!reason) return 'skipped without a reason (skipBecause/skipUnless keep one)'
  const lacking = /^(?:requires|needs) (?:one of )?([\w|-]+)(?=[:\s(]|$)/.exec(reason)
  const having = /^this kernel has ([\w, -]+?):/.exec(reason)
  const names = lacking ? lacking[1].split('|') : having ? having[1].split(/,\s*/) : undefined
  if (!names) return `unknown skip reason (neither "requires <feature>: ..." nor "this kernel has <feature>: ...")`
  const unknown = names.filter((n) => !KNOWN.has(n))
  if (unknown.length) return `unknown feature or condition ${unknown.join(', ')} in the skip reason`
  if (lacking) {
    const had = names.filter((n) => expected.has(n))
    return had.length ? `this machine is expected to have ${had.join(', ')}` : undefined
  }
  const unexpected = names.filter((n) => !expected.has(n))
  return unexpected.length ? `this machine is not expected to have ${unexpected.join(', ')}, so the test should have run` : undefined
}
