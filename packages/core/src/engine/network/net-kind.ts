/**
 * One kind of network fault (engine/packet, engine/shaping, engine/reset, engine/dns), as the
 * network family (net-carrier.ts) serves it. Every kind shares what the carrier owns: the one
 * net.bpf.o, its socket marking, the interface set, the TC carrier (tcx or cls_bpf) and the rule
 * maps indexed by a rule's index in config.network (fl_net_rules, fl_net_counters, ...), which
 * the carrier writes for every rule in one step. A kind adds its rule validation and what it
 * arms beside them: its qdiscs, its iterator, its own maps. The kinds are listed in families.ts.
 */
import type { FailureConfig } from '../../config/types.js'
import type { NetMechanism, NormalizedNetworkRule } from '../../config/network.js'
import type { BpfObject } from '../../libbpf/index.js'
import type { HandleRule, Refusal } from '../family.js'
import type { Instance } from '../instance.js'
import type { Transaction } from '../transaction.js'
import type { NetDevice } from './interfaces.js'

/** A rule of config.network and its index there (its slot in the shared network rule maps). */
export interface IndexedNetRule {
  rule: NormalizedNetworkRule
  index: number
}

/** What the carrier settled in prepare, before a kind prepares. */
export interface NetCarrierState {
  net: BpfObject
  devices: NetDevice[]
}

/** What shaping needs of the whole network rule state (fl_net_state) and of the socket hooks. */
export interface NetShapingState {
  /** The IFB device's ifindex for ingress shaping, 0 when no rule shapes ingress. */
  ifbIfindex: number
  /** The MSS the targets' TCP sockets get while shaping (clamp_mss in bpf/net.bpf.c), or 0. */
  tcpMss: number
}

/** A kind's part of one arming. Each hook is optional: the carrier does the shared work. */
export interface NetKindArm {
  /** Handle rules of its own outside config.network (DNS's), listed after config.network's. */
  readonly rules?: HandleRule[]
  /** After the carrier chose the interfaces, before the clsact qdiscs: what runs helpers or loads objects. */
  prepare?(tx: Transaction, carrier: NetCarrierState): void
  /** fl_net_rule.class_id of its rule at `index` (shaping: the htb class the packet is steered to). */
  classId?(index: number): number
  /** Its part of fl_net_state (shaping's), read once prepare is done; undefined when it has none. */
  netState?(): NetShapingState | undefined
  /** Its own maps, inside the carrier's step that writes the network rule maps, after fl_net_state. */
  write?(armedNs: bigint): void
  /** Once every link is attached. */
  start?(): void
  /** Undoes write and stops what start started, before the shared maps are zeroed. Never throws. */
  clear?(): void
  /**
   * Removes the tc state its prepare made, after the maps are zeroed; true when it made some (the
   * carrier then removes the owner record). A throw is logged; a later sweep removes what is left.
   */
  removeTc?(): boolean
}

export interface NetKind {
  readonly name: string
  /** The actions of config.network whose rules are this kind's (none for DNS: its rules are config.dns). */
  readonly actions: readonly NormalizedNetworkRule['action'][]
  /** Its rules act on both TC directions of their interfaces, whatever their direction (reset counts bytes both ways). */
  readonly bothWays?: boolean
  /** A rule of its own with neither hosts nor interface acts on lo only, not on every interface that is up (shaping: qdiscs). */
  readonly loByDefault?: boolean
  /**
   * Rules of its own outside config.network (DNS): the carrier runs the egress programs on every
   * interface that is up and marks UDP sockets for them.
   */
  hasOutsideRules?(config: FailureConfig): boolean
  /** Refusals for its rules outside config.network when the TC carrier cannot be had (`reason`). */
  refuseOutside?(config: FailureConfig, reason: string): Refusal[]
  /** Why this kernel cannot serve one rule of its own in config.network, or undefined (the carrier adds its own reason). */
  refuse?(rule: NormalizedNetworkRule): string | undefined
  /** Its part of an arming of `config` (`own`: its rules of config.network), or undefined when it has nothing to arm. */
  arm?(config: FailureConfig, inst: Instance, own: IndexedNetRule[], mechanism: NetMechanism): NetKindArm | undefined
}
