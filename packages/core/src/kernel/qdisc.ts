/**
 * Qdisc and classifier features (cls_bpf, netem, tbf, ifb), probed in a throw-away network
 * namespace (`unshare -n`) so the probe never touches a real interface: its own `lo` gets the
 * qdisc, the namespace vanishes with the command. Needs util-linux's unshare and iproute2.
 *
 * unshare -n needs CAP_SYS_ADMIN, which a process given only what faultline needs (CAP_BPF,
 * CAP_PERFMON, CAP_NET_ADMIN: `setpriv`, `docker --cap-add`) lacks. Then the probe runs in a
 * network namespace inside a new user namespace (`unshare -Urn`) and, where that is refused
 * too (Docker's seccomp profile refuses unshare without CAP_SYS_ADMIN), in the current
 * namespace on a device of its own (flprobe<pid>, an ifb or dummy device, deleted at the end
 * of the same command), never on a real interface. An EPERM is never reported as the
 * kernel lacking the feature, nor is a probe that got no answer from the kernel (tc missing,
 * a timeout): that is a probe error.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import os from 'node:os'
import { SYSTEM_DIRS, helperEnv, helperPath, type Helper } from '../helpers.js'
import type { FeatureResult, QdiscFeature } from './feature-names.js'

export type { QdiscFeature }

const COMMANDS: Record<Exclude<QdiscFeature, 'ifb-redirect'>, string> = {
  // a classic-BPF classifier program: loads cls_bpf without needing an object file
  'cls-bpf': 'tc qdisc add dev lo clsact && tc filter add dev lo ingress bpf bytecode "1,6 0 0 0,"',
  netem: 'tc qdisc add dev lo root netem delay 1ms',
  tbf: 'tc qdisc add dev lo root tbf rate 1mbit burst 32kbit latency 50ms',
  htb: 'tc qdisc add dev lo root handle 1: htb && tc class add dev lo parent 1: classid 1:1 htb rate 1mbit',
  ifb: 'ip link add fl-probe0 type ifb',
}

const HINTS: Record<Exclude<QdiscFeature, 'ifb-redirect'>, string> = {
  'cls-bpf': 'needs CONFIG_NET_CLS_BPF and CONFIG_NET_SCH_INGRESS (modules cls_bpf, sch_ingress)',
  netem: 'needs CONFIG_NET_SCH_NETEM (module sch_netem)',
  tbf: 'needs CONFIG_NET_SCH_TBF (module sch_tbf)',
  htb: 'needs CONFIG_NET_SCH_HTB (module sch_htb)',
  ifb: 'needs CONFIG_IFB (module ifb)',
}

/**
 * bpf_redirect() into an IFB device (ingress shaping): before Linux 6.4 the redirected packet
 * lacks skb->redirected and ifb drops it (fixed by "bpf: Set skb redirect and from_ingress info
 * in __bpf_tx_skb"; measured: every packet lost on Debian's 6.1, delivered on 6.12). A version
 * check, since a live probe would have to send traffic through a device.
 */
function probeIfbRedirect(ifb: FeatureResult): FeatureResult {
  const feature = 'ifb-redirect'
  if (!ifb.available) return { ...ifb, feature }
  const [major = 0, minor = 0] = os.release().split(/[.-]/).map(Number)
  if (major > 6 || (major === 6 && minor >= 4)) return { feature, available: true, reason: 'ok' }
  return { feature, available: false, reason: `not supported by this kernel (${os.release()}): bpf_redirect into an IFB device works from Linux 6.4; before it ifb drops the packets` }
}

// unshare itself refused: the namespace (no CAP_SYS_ADMIN), or the user namespace's uid_map (uid 0 without CAP_SETUID)
const DENIED = /^unshare: .*Operation not permitted/m
const lastLine = (r: { stderr: string; stdout: string; status: number | null }) => (r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.status}`

/**
 * The probe command on a device of its own in the current namespace: an ifb device (the ifb
 * probe is just creating it), else a dummy one. `trap` deletes it however the command ends.
 */
function inCurrentNamespace(feature: Exclude<QdiscFeature, 'ifb-redirect'>): SpawnSyncReturns<string> {
  const dev = `flprobe${process.pid}`
  const body = feature === 'ifb' ? 'true' : COMMANDS[feature].replace(/dev lo\b/g, `dev ${dev}`)
  const kinds = feature === 'ifb' ? 'ifb' : 'ifb dummy'
  const script =
    `made=; for k in ${kinds}; do ip link add ${dev} type $k 2>/dev/null && made=$k && break; done; ` +
    // the trap only once the device is ours: a device of that name made by someone else is never deleted
    `[ -n "$made" ] || { ip link add ${dev} type ${feature === 'ifb' ? 'ifb' : 'dummy'}; exit 3; }; trap 'ip link del ${dev} 2>/dev/null' EXIT; ${body}`
  return spawnHelper('sh', ['-c', script])
}

/** A helper from the system directories (helpers.ts); its absence reads like a failed spawn. */
function spawnHelper(name: Helper, args: string[]): SpawnSyncReturns<string> {
  const file = helperPath(name)
  if (!file) return { pid: 0, output: [], stdout: '', stderr: '', status: null, signal: null, error: new Error(`${name} not found in ${SYSTEM_DIRS.join(', ')}`) }
  return spawnSync(file, args, { encoding: 'utf8', timeout: 10_000, env: helperEnv() })
}

/**
 * The kernel's own answers, as iproute2 prints them: an extack message ("Error: Specified qdisc
 * kind is unknown.", "Error: Unknown device type.") or an errno ("RTNETLINK answers: ..."),
 * except the errnos that say this machine is short of something (memory, a busy device).
 */
const KERNEL_ANSWER = /^(Error: |RTNETLINK answers: )/
const NOT_AN_ANSWER = /Cannot allocate memory|Device or resource busy|File exists|No buffer space/

/** Why the probe command did not get the kernel's answer (not run, timed out, tc missing), or undefined when it did. */
function probeFailure(r: SpawnSyncReturns<string>): string | undefined {
  if (r.error) return `${r.error.message} (needs unshare from util-linux, and iproute2; a probe command is given 10 s)`
  if (r.status === null) return `the probe command was killed by ${r.signal}`
  if (r.status === 127) return `a command was not found (needs unshare from util-linux, and iproute2's tc and ip): ${lastLine(r)}`
  const msg = lastLine(r)
  if (!KERNEL_ANSWER.test(msg) || NOT_AN_ANSWER.test(msg)) return `exit ${r.status}, not a kernel answer: ${msg}`
  return undefined
}

export function probeQdiscFeature(feature: QdiscFeature, probe: (f: 'ifb') => FeatureResult): FeatureResult {
  if (feature === 'ifb-redirect') return probeIfbRedirect(probe('ifb'))
  const run = (flags: string) => spawnHelper('unshare', [flags, helperPath('sh') ?? '/bin/sh', '-c', COMMANDS[feature]])
  let r = run('-n')
  // A new network namespace needs CAP_SYS_ADMIN; without it (capabilities-only runs), one inside
  // a new user namespace, where this process is root, probes the same kernel.
  if (r.status !== 0 && DENIED.test(r.stderr)) r = run('-Urn')
  if (r.status === 0) return { feature, available: true, reason: 'ok' }
  let where = ''
  if (DENIED.test(r.stderr)) {
    // no namespace of our own (no CAP_SYS_ADMIN; user namespaces refused, e.g. by a container's
    // seccomp profile): a device of our own instead
    r = inCurrentNamespace(feature)
    if (r.status === 0) return { feature, available: true, reason: 'ok (probed on a device of its own: no network namespace could be made)' }
    if (r.status === 3) {
      return { feature, available: false, errno: 1, reason: `cannot probe: EPERM creating a network namespace to probe in (needs CAP_SYS_ADMIN, or unprivileged user namespaces), and no ifb or dummy device could be made for the probe: ${lastLine(r)}` }
    }
    where = ' (probed on a device of its own)'
  }
  const failed = probeFailure(r)
  if (failed) return { feature, available: false, probeError: true, reason: `probe error${where}: ${failed}` }
  const msg = lastLine(r)
  if (/Operation not permitted/.test(msg)) {
    return { feature, available: false, errno: 1, reason: `EPERM: not permitted to this process${where} although it holds CAP_NET_ADMIN: ${msg}` }
  }
  return { feature, available: false, reason: `not supported by this kernel (${HINTS[feature]})${where}: ${msg}` }
}
