/**
 * A per-process record of armings, whichever API made them (withFailureConfig, arm, an adapter's
 * helpers), for reporters: the Vitest plugin and the Jest environment report every arming of a
 * test, not only their own. The listeners are one per process (process-slot.ts), so every copy of
 * the core (the ESM build, the CommonJS bundle, the one Jest evaluates in a test's realm) reports
 * to the same place.
 */
import type { FaultsHandle } from './handle.js'
import { processSlot } from '../process-slot.js'

export type ArmingListener = (handle: FaultsHandle) => void

const listeners = processSlot('armings', () => new Set<ArmingListener>())
/** While above 0, armings are not announced: exploreFailures reports its runs as one exploration. */
const muted = processSlot('armings-muted', () => ({ depth: 0 }))

/** Runs `fn` with its armings kept from the listeners. */
export async function withArmingsMuted<T>(fn: () => Promise<T>): Promise<T> {
  muted.depth++
  try {
    return await fn()
  } finally {
    muted.depth--
  }
}

/** Calls `listener` with the handle of every arming from now on; returns the unsubscribe. */
export function observeArmings(listener: ArmingListener): () => void {
  listeners.add(listener)
  return () => void listeners.delete(listener)
}

/** Called by the engine once a config is armed. A listener's error never breaks an arming. */
export function announceArming(handle: FaultsHandle): void {
  if (muted.depth > 0) return
  for (const l of listeners) {
    try {
      l(handle)
    } catch {
      /* a reporter's bug must not change what the test sees */
    }
  }
}
