/**
 * Packet faults: drop, corrupt and duplicate the targets' packets (network rules with those
 * actions). The TC programs of the network family (network/net-carrier.ts) do all of it from the
 * shared network rule maps (bpf/include/net_maps.h, read by bpf/net.bpf.c): this kind adds no
 * maps, qdiscs or programs of its own, and every kernel with a TC carrier serves it.
 */
import type { NetKind } from '../network/net-kind.js'

export const packetKind: NetKind = {
  name: 'packet',
  actions: ['drop', 'corrupt', 'duplicate'],
}
