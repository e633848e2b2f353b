/**
 * Connection resets (network rules with action 'reset', reset-kind.ts). The TC programs count the payload bytes
 * of the targets' TCP sockets and condemn a socket once a reset rule is due (bpf/include/bytes.h),
 * dropping its data from then on, so no more than the segment that crossed after_bytes reaches
 * the application. Destroying needs bpf_sock_destroy, which only an iter/tcp program may call
 * (bpf/reset.bpf.c), and an iterator runs only when read: this process reads it
 * - every POLL_MS when the condemned count in fl_reset_state grew (TC cannot wake us: a map read
 *   every few ms costs microseconds, and meanwhile the socket's data is held back, not delivered);
 * - once at each rule's `when.after` (and at arming), so idle connections are reset on time;
 * - once more at disarm, for a socket condemned in the last moments of the window.
 * The poller is a timer of this process's event loop: a test that blocks the loop (execFileSync)
 * delays the reset, never the byte limit.
 */
import createDebug from 'debug'
import type { NormalizedNetworkRule } from '../../config/network.js'
import { probeFeature } from '../../kernel/features.js'
import { attachIter, runIter, type BpfObject, type Link } from '../../libbpf/index.js'
import { sleepSync } from '../../sleep-sync.js'
import type { Instance } from '../instance.js'
import { u32Key } from '../shared-layout.js'

const debug = createDebug('faultline:reset')
const POLL_MS = 5
/** net.bpf.o's maps the iterator reads, and bytes.h's, which both objects declare. */
const NET_MAPS = ['fl_net_socks', 'fl_net_devs', 'fl_net_rules', 'fl_net_counters', 'fl_net_state', 'fl_net_hosts', 'fl_net_allow', 'fl_reset_socks', 'fl_reset_limits', 'fl_reset_state', 'fl_net_flows', 'fl_net_draws']
/** sizeof(struct fl_reset_state) in bytes.h. */
export const RESET_STATE_SIZE = 24

const isReset = (r: NormalizedNetworkRule): boolean => r.action === 'reset'

/** Why this kernel cannot reset connections, or undefined. */
export function resetRefusal(): string | undefined {
  const p = probeFeature('sock-destroy')
  return p.available ? undefined : `action reset needs bpf_sock_destroy (kfunc, Linux >= 6.5) from an iter/tcp program: ${p.reason}`
}

export function encodeResetState(doomed: bigint, nRules: number, gen: number): Buffer {
  const b = Buffer.alloc(RESET_STATE_SIZE)
  b.writeBigUInt64LE(doomed, 0)
  b.writeUInt32LE(nRules, 8)
  b.writeUInt32LE(gen >>> 0, 12)
  return b
}

let generation = 0

/** The reset rules of one arming: loaded and linked in prepare, polled from attach to clear. */
export class ResetArm {
  private readonly obj: BpfObject
  private readonly link: Link
  private timer: NodeJS.Timeout | undefined
  private seen = 0n
  private waited = 0n
  private waiting = false
  private pendingAfters: bigint[] = []
  private armedNs = 0n
  private closed = false

  /** `rules` are the whole network section (indices are the rule slots). */
  constructor(
    private readonly rules: NormalizedNetworkRule[],
    private readonly net: BpfObject,
    inst: Instance,
  ) {
    this.obj = inst.fault('reset', { prepare: (obj) => NET_MAPS.forEach((m) => obj.reuseMap(m, net.map(m).fd)) })
    // An iterator link does nothing until read; it lives from prepare to clear.
    this.link = attachIter(this.obj.program('fl_reset_iter'))
  }

  /** Before the TC programs attach: limits per rule, and the state that switches counting on. */
  write(armedNs: bigint): void {
    const limits = this.net.map('fl_reset_limits')
    this.rules.forEach((r, i) => {
      const b = Buffer.alloc(8)
      b.writeBigUInt64LE(BigInt(isReset(r) ? r.afterBytes : 0))
      limits.update(u32Key(i), b)
    })
    generation = (generation % 0xfffffffe) + 1
    const n = this.rules.filter(isReset).length
    this.net.map('fl_reset_state').update(u32Key(0), encodeResetState(0n, n, generation))
    this.seen = 0n
    this.waited = 0n
    this.armedNs = armedNs
    this.pendingAfters = [...new Set(this.rules.filter(isReset).map((r) => BigInt(Math.round(r.when.afterMs * 1e6))))].sort((a, b) => (a < b ? -1 : 1))
  }

  /** Once every link is attached: starts the poller (and resets what is already due). */
  start(): void {
    this.tick()
    this.timer = setInterval(() => this.tick(), POLL_MS)
    this.timer.unref()
  }

  private tick(): void {
    try {
      let run = false
      const now = process.hrtime.bigint() // CLOCK_MONOTONIC, as bpf_ktime_get_ns
      while (this.pendingAfters.length && now - this.armedNs >= this.pendingAfters[0]!) {
        this.pendingAfters.shift()
        run = true
      }
      const state = this.net.map('fl_reset_state')
      const before = state.lookup(u32Key(0))
      const doomed = before?.readBigUInt64LE(0) ?? 0n
      // Again while the last pass left a condemned socket waiting for its reader.
      if (doomed !== this.seen || this.waiting) run = true
      if (!run) return
      this.seen = doomed
      runIter(this.link)
      const waited = state.lookup(u32Key(0))?.readBigUInt64LE(16) ?? 0n
      this.waiting = waited !== this.waited
      this.waited = waited
      debug('reset pass: %d condemned so far, %s', doomed, this.waiting ? 'some wait for their reader' : 'none waiting')
    } catch (err) {
      debug('reset pass: %s', (err as Error).message)
    }
  }

  /**
   * Stops the poller, resets what was condemned but not destroyed yet (within the grace period
   * for its reader, FL_RESET_GRACE_NS), switches counting off. Never throws.
   */
  clear(): void {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    this.pendingAfters = []
    const deadline = performance.now() + 1100
    for (this.tick(); this.waiting && performance.now() < deadline; this.tick()) sleepSync(POLL_MS)
    try {
      this.net.map('fl_reset_state').update(u32Key(0), encodeResetState(0n, 0, 0))
      const limits = this.net.map('fl_reset_limits')
      this.rules.forEach((_, i) => limits.update(u32Key(i), Buffer.alloc(8)))
    } catch (err) {
      debug('clear the reset maps: %s', (err as Error).message)
    }
    this.link.destroy()
  }
}
