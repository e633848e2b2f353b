/** How faultline's objects in tc and the device list are recognised, and whose they are. */
import { ownerHex } from './owner.js'
import type { Qdisc } from './iproute-commands.js'

/** The priority of faultline's cls_bpf filters ("f17"; libbpf takes 1..65535); their handle is the owner id. */
export const FL_TC_PRIORITY = 0x0f17
/** htb handle major of faultline's shaping qdiscs: "fa17:" in `tc qdisc show`; `default` = the owner id. */
export const SHAPING_MAJOR = 0xfa17
export const SHAPING_HANDLE = `${SHAPING_MAJOR.toString(16)}:`
const IFB_PREFIX = 'flifb'

/** faultline's IFB devices (ingress shaping): flifb<owner id hex>. */
export const ifbName = (owner: number): string => `${IFB_PREFIX}${ownerHex(owner)}`
export const isFaultlineIfb = (name: string): boolean => name.startsWith(IFB_PREFIX)

/** The owner tagged in an IFB device's name (8 hex digits), or an older version's pid (decimal); 0 if neither. */
export function ifbOwner(name: string): number {
  const tail = name.slice(IFB_PREFIX.length)
  if (/^[0-9a-f]{8}$/.test(tail)) return parseInt(tail, 16)
  return /^\d{1,7}$/.test(tail) ? Number(tail) : 0
}

export const isShapingRoot = (q: Qdisc): boolean => q.kind === 'htb' && q.handle === SHAPING_HANDLE && (q.root ?? q.parent === undefined)

/** The owner tagged in a shaping root's `default`; 0 for older versions, which tagged nothing there. */
export function htbOwner(q: Qdisc): number {
  const d = q.options?.default
  return (typeof d === 'number' ? d : Number(d ?? 0)) >>> 0
}
