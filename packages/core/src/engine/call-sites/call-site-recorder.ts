/**
 * Records which user call site each eligible call of a census came from (bpf/sites.bpf.c,
 * bpf/include/sites.h), for `faultline explore --by site`. Not a fault family: it fails nothing,
 * and only a census asks for it (arm's `callSites` option). The session prepares it with the
 * families, attaches it after process tracking and before any fault, reads it at disarm before
 * the shared maps are cleared, and clears it with them.
 */
import { attachTracepoint, type BpfObject } from '../../libbpf/index.js'
import type { FailureConfig } from '../../config/types.js'
import { syscallTable } from '../../config/syscalls.js'
import type { Instance } from '../instance.js'
import type { Transaction } from '../transaction.js'
import { FL_MAX_SYSCALLS, u32Key } from '../shared-layout.js'
import { decodeSite, decodeSiteKey, decodeStack } from './site-layout.js'

/** One eligible call of a rule in the census, and the stack it came from. */
export interface SiteCall {
  /** 1-based, as `when: { nth }` counts. */
  nth: number
  /** fl_site_stacks id; negative when the kernel could not take the stack. */
  stackId: number
  /** User return addresses, innermost first, by frame-pointer unwinding; empty when unknown. */
  frames: bigint[]
  /** The first return addresses found by scanning the user stack from its top, innermost first. */
  rets: bigint[]
  /** The calling process's comm. */
  comm: string
}

/** Per rule index: its logged calls in nth order. */
export type SiteLog = Map<number, SiteCall[]>

export interface CallSiteRecorder {
  prepare(tx: Transaction): void
  attach(tx: Transaction): void
  /** The calls logged so far; read before clear(). */
  read(): SiteLog
  /** Empties the shared site maps (they outlive the window); idempotent, never throws. */
  clear(): void
}

/** The syscall numbers the config's syscall rules name: only their calls are looked at. */
function ruleSyscalls(config: FailureConfig): number[] {
  const table = syscallTable()
  return [...new Set(config.syscalls.map((r) => table[r.syscall]).filter((nr): nr is number => nr !== undefined && nr < FL_MAX_SYSCALLS))]
}

export function callSiteRecorder(inst: Instance, config: FailureConfig): CallSiteRecorder {
  let obj: BpfObject | undefined
  const nrs = ruleSyscalls(config)
  const clearMaps = () => {
    try {
      for (const m of [inst.maps.fl_site_now, inst.maps.fl_site_log, obj?.map('fl_site_stacks')]) m?.clear()
      const wanted = obj?.map('fl_site_syscalls') // an array: zeroed, not deleted
      for (const nr of nrs) wanted?.update(u32Key(nr), u32Key(0))
    } catch {
      /* the object is gone with its maps */
    }
  }
  return {
    prepare(tx) {
      const o = (obj = tx.step('load the call-site recorder', () => inst.fault('sites')))
      clearMaps() // a census starts from an empty log and stack map
      const wanted = o.map('fl_site_syscalls')
      for (const nr of nrs) wanted.update(u32Key(nr), u32Key(1))
    },
    attach(tx) {
      const o = obj
      if (!o) throw new Error('faultline: the call-site recorder was not prepared')
      tx.attach('tp_btf/sys_enter (call sites)', () => attachTracepoint(o.program('fl_site_enter')))
    },
    read() {
      const stacks = obj?.map('fl_site_stacks')
      const frames = new Map<number, bigint[]>()
      const framesOf = (id: number): bigint[] => {
        if (id < 0 || !stacks) return []
        let f = frames.get(id)
        if (!f) {
          const key = Buffer.alloc(4)
          key.writeUInt32LE(id)
          const v = stacks.lookup(key)
          f = v ? decodeStack(v) : []
          frames.set(id, f)
        }
        return f
      }
      const log: SiteLog = new Map()
      for (const k of inst.maps.fl_site_log.keys()) {
        const v = inst.maps.fl_site_log.lookup(k)
        if (!v) continue
        const { rule, nth } = decodeSiteKey(k)
        const { stackId, rets, comm } = decodeSite(v)
        const calls = log.get(rule) ?? []
        calls.push({ nth, stackId, frames: framesOf(stackId), rets, comm })
        log.set(rule, calls)
      }
      for (const calls of log.values()) calls.sort((a, b) => a.nth - b.nth)
      return log
    },
    clear: clearMaps,
  }
}
