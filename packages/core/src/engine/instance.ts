/**
 * The BPF objects of this process's faultline instance, loaded once on first use and kept
 * until exit: process tracking first (it creates the shared maps), then the fault objects,
 * which reuse those maps. Loading parses the kernel BTF (~10-15 ms), so it is done once.
 */
import createDebug from 'debug'
import { BpfObject, attachTracepoint, type BpfMap } from '../libbpf/index.js'
import { noteFeatureAvailable } from '../kernel/features.js'
import { bpfObjectPath } from '../paths.js'
import { syscallTable } from '../config/syscalls.js'
import { SYSCALL_ARGS } from '../kernel/syscall-args.js'
import { encodeSysinfo, u32Key, FL_MAX_SYSCALLS } from './shared-layout.js'

const debug = createDebug('faultline:engine')

/** Maps declared in bpf/include/maps.h, shared by every object. */
export const SHARED_MAPS = ['fl_targets', 'fl_state', 'fl_rules', 'fl_counters', 'fl_comms', 'fl_globs', 'fl_sysinfo', 'fl_scratch', 'fl_site_now', 'fl_site_log'] as const
export type SharedMapName = (typeof SHARED_MAPS)[number]

export interface Instance {
  process: BpfObject
  maps: Record<SharedMapName, BpfMap>
  /**
   * A fault object, loaded on first use and kept: `key` names the instance ('sock',
   * 'sys_fmodret:openat'), `file` the object file (default: the key), `prepare` runs before load.
   */
  fault(key: string, options?: { file?: string; prepare?: (obj: BpfObject) => void }): BpfObject
}

let instance: Instance | undefined

/**
 * process.bpf.o's tracking programs are tp_btf programs: once one loaded and attached, the tp_btf
 * probe (which would load probe.bpf.o and parse the kernel BTF again) has its answer. fl_exit
 * does nothing while fl_state is zero, as it is before the first arming; a failed attach proves
 * nothing, and the probe runs as before.
 */
function provesTpBtf(processObj: BpfObject): void {
  try {
    attachTracepoint(processObj.program('fl_exit')).destroy()
    noteFeatureAvailable('tp_btf', 'process.bpf.o loaded and attached')
  } catch (err) {
    debug('tp_btf not proven by process.bpf.o: %s', (err as Error).message)
  }
}

export function getInstance(): Instance {
  if (instance) return instance
  const t0 = performance.now()
  const processObj = BpfObject.open(bpfObjectPath('process'))
  try {
    processObj.load()
  } catch (err) {
    processObj.close()
    throw err
  }
  provesTpBtf(processObj)
  const maps = Object.fromEntries(SHARED_MAPS.map((m) => [m, processObj.map(m)])) as Record<SharedMapName, BpfMap>
  // Where each syscall's path / fd / flags arguments are, for the syscall-level hooks.
  for (const [name, nr] of Object.entries(syscallTable())) {
    const args = SYSCALL_ARGS[name]
    if (args && nr < FL_MAX_SYSCALLS) maps.fl_sysinfo.update(u32Key(nr), encodeSysinfo(args))
  }
  const faults = new Map<string, BpfObject>()
  instance = {
    process: processObj,
    maps,
    fault(name, options = {}) {
      const hit = faults.get(name)
      if (hit) return hit
      const t = performance.now()
      const obj = BpfObject.open(bpfObjectPath(options.file ?? name))
      try {
        for (const m of SHARED_MAPS) obj.reuseMap(m, maps[m].fd)
        options.prepare?.(obj)
        obj.load()
      } catch (err) {
        obj.close()
        throw err
      }
      debug('loaded %s.bpf.o in %s ms', name, (performance.now() - t).toFixed(1))
      faults.set(name, obj)
      return obj
    },
  }
  debug('loaded process.bpf.o in %s ms', (performance.now() - t0).toFixed(1))
  return instance
}
