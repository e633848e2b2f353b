/**
 * Every fault family, in arming order: the session prepares, writes and attaches them in this
 * order and clears them in reverse. Adding a fault kind adds one line here (README.md).
 */
import type { FaultFamily } from './family.js'
import { delayFamily } from './delay/delay-family.js'
import { errnoFamily } from './errno/errno-family.js'
import { corruptFamily } from './corrupt/corrupt-family.js'
import { networkFamily } from './network/network-family.js'

export const FAMILIES: readonly FaultFamily[] = [
  // First: the delay resumer leaves the target set at its attach, before any other fault attaches.
  delayFamily,
  errnoFamily,
  corruptFamily,
  networkFamily,
]
