/**
 * Connection resets: network rules with action 'reset' (reset-iterator.ts says how). The shared
 * TC programs count the bytes of the targets' TCP connections, both ways, and condemn a socket
 * once its rule is due; this kind loads the iter/tcp program that destroys it (reset.bpf.o,
 * sharing net.bpf.o's maps), writes the byte limits, and polls the iterator while armed.
 */
import type { NetKind } from '../network/net-kind.js'
import { ResetArm, resetRefusal } from './reset-iterator.js'

export const resetKind: NetKind = {
  name: 'reset',
  actions: ['reset'],
  bothWays: true,
  refuse: () => resetRefusal(),
  arm(config, inst, own) {
    if (!own.length) return undefined
    let reset: ResetArm | undefined
    return {
      prepare(tx, { net }) {
        reset = tx.step('load the connection reset iterator', () => new ResetArm(config.network, net, inst))
      },
      write: (armedNs) => reset!.write(armedNs),
      start: () => reset!.start(),
      clear: () => reset?.clear(),
    }
  },
}
