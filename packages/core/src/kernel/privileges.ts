/** The capabilities faultline needs, read from /proc/self/status (CapEff). */
import fs from 'node:fs'

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

export function readPrivileges(): Privileges {
  let capEff = 0n
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
    if (m?.[1]) capEff = BigInt(`0x${m[1]}`)
  } catch {
    /* not Linux */
  }
  const has = (c: CapName) => (capEff & (1n << BigInt(CAPS[c]))) !== 0n
  const effective = Object.fromEntries(Object.keys(CAPS).map((c) => [c, has(c as CapName)])) as Record<CapName, boolean>
  const missing = (['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'] as const).filter((c) => !holds(c, effective))
  return { uid: process.getuid?.() ?? -1, effective, missing }
}

/** How to grant what is missing, for error messages (GitHub runners: non-root with sudo). */
export const GRANT_ADVICE =
  'run the tests as root (e.g. `sudo -E env "PATH=$PATH" npx vitest run`), or give a copy of the node binary ' +
  'the capabilities: `sudo setcap cap_bpf,cap_perfmon,cap_net_admin,cap_sys_admin+ep ./node`'
