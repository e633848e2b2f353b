/**
 * Explorations, announced to reporters like armings are (armings.ts): the Vitest plugin, the Jest
 * environment and node:test's summary print each report beside their fault summary. One listener
 * set per process, shared by every copy of the core.
 */
import { processSlot } from '../process-slot.js'
import type { ExploreReport } from './types.js'

export type ExplorationListener = (report: ExploreReport) => void

const listeners = processSlot('explorations', () => new Set<ExplorationListener>())

/** Calls `listener` with the report of every exploreFailures from now on; returns the unsubscribe. */
export function observeExplorations(listener: ExplorationListener): () => void {
  listeners.add(listener)
  return () => void listeners.delete(listener)
}

export function announceExploration(report: ExploreReport): void {
  for (const l of listeners) {
    try {
      l(report)
    } catch {
      /* a reporter's bug must not change what the test sees */
    }
  }
}
