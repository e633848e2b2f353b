/** The capabilities faultline needs: the calling thread's effective set (capget, or CapEff of /proc/self/status). */
import fs from 'node:fs'
import { capget } from './ambient-caps.js'

export const CAPS = { CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 } as const
export type CapName = keyof typeof CAPS

export interface Privileges {
  uid: number
  effective: Record<CapName, boolean>
  /** Capabilities missing for the cgroup/tracepoint/tc path (CAP_SYS_ADMIN stands in for BPF+PERFMON). */
  missing: CapName[]
}

/**
 * Whether this process holds `cap` in effect. The kernel lets CAP_SYS_ADMIN stand in for CAP_BPF
 * (bpf_capable) and CAP_PERFMON (perfmon_capable).
 */
export function holds(cap: CapName, effective: Record<CapName, boolean> = readPrivileges().effective): boolean {
  return effective[cap] || ((cap === 'CAP_BPF' || cap === 'CAP_PERFMON') && effective.CAP_SYS_ADMIN)
}

/** Of `caps`, those this process lacks. */
export function lacking(caps: readonly CapName[]): CapName[] {
  const effective = readPrivileges().effective
  return caps.filter((c) => !holds(c, effective))
}

/** /proc/self/status, opened once per process (every arming checks): a pread regenerates it. */
let status: { fd: number; pid: number } | undefined
const statusBuf = Buffer.alloc(8192)

/** The effective set by capget(2) (every arming checks), or undefined where libc cannot be called. */
function capgetEffective(): bigint | undefined {
  try {
    return capget()?.effective
  } catch {
    return undefined // libbpf.so.1 missing: getNative() loads it first
  }
}

/** This process's effective capability set, 0 where there is none. */
function readCapEff(): bigint {
  const viaCapget = capgetEffective()
  if (viaCapget !== undefined) return viaCapget
  try {
    if (status?.pid !== process.pid) status = { fd: fs.openSync('/proc/self/status', 'r'), pid: process.pid }
    const n = fs.readSync(status.fd, statusBuf, 0, statusBuf.length, 0)
    const text = statusBuf.toString('latin1', 0, n)
    const at = text.indexOf('\nCapEff:')
    if (at < 0) return 0n
    const hex = /^\s*([0-9a-f]+)/.exec(text.slice(at + 8, at + 40))?.[1]
    return hex ? BigInt(`0x${hex}`) : 0n
  } catch {
    return 0n // not Linux
  }
}

export function readPrivileges(): Privileges {
  const capEff = readCapEff()
  const has = (c: CapName) => (capEff & (1n << BigInt(CAPS[c]))) !== 0n
  const effective = Object.fromEntries(Object.keys(CAPS).map((c) => [c, has(c as CapName)])) as Record<CapName, boolean>
  const missing = (['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'] as const).filter((c) => !holds(c, effective))
  return { uid: process.getuid?.() ?? -1, effective, missing }
}

/** How to grant what is missing, for error messages (GitHub runners: non-root with sudo). */
export const GRANT_ADVICE =
  'run the tests as root (e.g. `sudo -E env "PATH=$PATH" npx vitest run`), or give a copy of the node binary ' +
  'the capabilities: `sudo setcap cap_bpf,cap_perfmon,cap_net_admin,cap_sys_admin+ep ./node`'
