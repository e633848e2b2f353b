/**
 * A per-process record of armings, whichever API made them (withFailureConfig, arm, an adapter's
 * helpers), for reporters: the Vitest plugin and the Jest environment report every arming of a
 * test, not only their own. The listeners live on a global symbol, so every copy of the core in
 * one realm (the ESM build, the CommonJS bundle) reports to the same place; Jest runs tests in
 * another realm, which its environment joins with shareArmings(testGlobal).
 */
import type { FaultsHandle } from './engine/handle.js'

export type ArmingListener = (handle: FaultsHandle) => void

const KEY = Symbol.for('faultline.armings')
interface Registry {
  listeners: Set<ArmingListener>
}

function registry(scope: object = globalThis): Registry {
  const s = scope as { [KEY]?: Registry }
  return (s[KEY] ??= { listeners: new Set() })
}

/** Calls `listener` with the handle of every arming from now on; returns the unsubscribe. */
export function observeArmings(listener: ArmingListener): () => void {
  const r = registry()
  r.listeners.add(listener)
  return () => void r.listeners.delete(listener)
}

/** Makes the copies of the core that run with `scope` as their global (e.g. Jest's test
 * context) report their armings to this realm's listeners. */
export function shareArmings(scope: object): void {
  ;(scope as { [KEY]?: Registry })[KEY] = registry()
}

/** Called by the engine once a config is armed. A listener's error never breaks an arming. */
export function announceArming(handle: FaultsHandle): void {
  for (const l of registry().listeners) {
    try {
      l(handle)
    } catch {
      /* a reporter's bug must not change what the test sees */
    }
  }
}
