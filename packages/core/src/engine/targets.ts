/**
 * Fills fl_targets at arming with the processes that exist already: the caller and its
 * descendants (a server started in beforeAll), or every process with a matching comm for
 * scope 'system'. The kernel does the walk (fl_seed, an iter/task program in process.bpf.c,
 * reading fl_state), in one read() instead of a pass over /proc. The fork tracepoint is
 * attached before this runs, so no fork slips between the two.
 */
import { attachIter, runIter, type Link } from '../libbpf/index.js'
import type { Instance } from './instance.js'

let seedLink: Link | undefined

export function seedTargets(inst: Instance): void {
  // The iterator link holds no attachment; keep it for the life of the instance.
  seedLink ??= attachIter(inst.process.program('fl_seed'))
  runIter(seedLink)
  // A child whose pid wrapped below its parent's can be visited before the parent was added.
  runIter(seedLink)
}
