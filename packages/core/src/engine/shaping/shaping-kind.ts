/**
 * Shaping: delay, jitter and bandwidth for the targets' traffic (network rules with action delay
 * or bandwidth). The shared TC programs steer a targeted packet into its rule's htb class
 * (fl_net_rule.class_id, fl_net_state's IFB device for ingress); this kind sets up the qdiscs
 * those classes are (shaping-qdiscs.ts) in prepare, under the tc lock, and removes them at clear.
 */
import type { NetKind } from '../network/net-kind.js'
import { classIdOf, planShapingRule, setUpShaping, type Shaping } from './shaping-qdiscs.js'

export const shapingKind: NetKind = {
  name: 'shaping',
  actions: ['delay', 'bandwidth'],
  // Qdiscs: a rule never shapes the machine's NIC unless asked to.
  loByDefault: true,
  refuse: planShapingRule,
  arm(_config, _inst, own) {
    if (!own.length) return undefined
    let shaping: Shaping | undefined
    return {
      prepare(tx, { devices }) {
        shaping = setUpShaping(own, devices, tx)
      },
      classId: classIdOf,
      netState: () => shaping,
      removeTc() {
        shaping?.remove()
        return !!shaping
      },
    }
  },
}
