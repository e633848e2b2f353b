/**
 * The BPF objects of this process's faultline instance, loaded once on first use and kept
 * until exit: process tracking first (it creates the shared maps), then the fault objects,
 * which reuse those maps. Loading parses the kernel BTF (~10-15 ms), so it is done once.
 */
import createDebug from 'debug'
import { BpfObject, type BpfMap } from '../libbpf/index.js'
import { bpfObjectPath } from '../paths.js'

const debug = createDebug('faultline:engine')

/** Maps declared in bpf/include/maps.h, shared by every object. */
export const SHARED_MAPS = ['fl_targets', 'fl_state', 'fl_rules', 'fl_counters', 'fl_comms'] as const
export type SharedMapName = (typeof SHARED_MAPS)[number]

export interface Instance {
  process: BpfObject
  maps: Record<SharedMapName, BpfMap>
  /** Fault objects by name ('sock', ...), loaded on first use. */
  fault(name: string): BpfObject
}

let instance: Instance | undefined

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
  const maps = Object.fromEntries(SHARED_MAPS.map((m) => [m, processObj.map(m)])) as Record<SharedMapName, BpfMap>
  const faults = new Map<string, BpfObject>()
  instance = {
    process: processObj,
    maps,
    fault(name) {
      const hit = faults.get(name)
      if (hit) return hit
      const t = performance.now()
      const obj = BpfObject.open(bpfObjectPath(name))
      try {
        for (const m of SHARED_MAPS) obj.reuseMap(m, maps[m].fd)
        obj.load()
      } catch (err) {
        obj.close()
        throw err
      }
      debug('loaded %s.bpf.o in %d ms', name, (performance.now() - t).toFixed(1))
      faults.set(name, obj)
      return obj
    },
  }
  debug('loaded process.bpf.o in %s ms', (performance.now() - t0).toFixed(1))
  return instance
}
