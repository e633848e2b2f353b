/**
 * Every fault family, in arming order: the session prepares, writes and attaches them in this
 * order and clears them in reverse. Adding a fault kind adds one line here (README.md): a family,
 * or a network kind served by the network family (network/net-kind.ts).
 */
import type { FaultFamily } from './family.js'
import { delayFamily } from './delay/delay-family.js'
import { errnoFamily } from './errno/errno-family.js'
import { corruptFamily } from './corrupt/corrupt-family.js'
import { networkFamily } from './network/net-carrier.js'
import { packetKind } from './packet/packet-kind.js'
import { shapingKind } from './shaping/shaping-kind.js'
import { resetKind } from './reset/reset-kind.js'
import { dnsKind } from './dns/dns-kind.js'

export const FAMILIES: readonly FaultFamily[] = [
  // First: the delay resumer leaves the target set at its attach, before any other fault attaches.
  delayFamily,
  errnoFamily,
  corruptFamily,
  // One family for the network kinds: they share one object, its rule maps and the TC programs,
  // in this order (they prepare, write, start and clear in it).
  networkFamily([
    packetKind,
    shapingKind,
    resetKind,
    dnsKind,
  ]),
]
