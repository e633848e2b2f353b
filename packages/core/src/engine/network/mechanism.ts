/**
 * How the TC programs attach: tcx links where the kernel has them (>= 6.6), else clsact +
 * cls_bpf filters; or the mechanism a rule pins (validation made all pins of a config agree).
 */
import type { NetMechanism, NormalizedNetworkRule } from '../../config/network.js'
import { probeFeature } from '../../kernel/features.js'

export type NetMechanismChoice = { ok: true; mechanism: NetMechanism } | { ok: false; reason: string }

export function chooseNetMechanism(rules: NormalizedNetworkRule[]): NetMechanismChoice {
  const pin = rules.find((r) => r.mechanism)
  if (pin?.mechanism) {
    const f = probeFeature(pin.mechanism)
    return f.available ? { ok: true, mechanism: pin.mechanism } : { ok: false, reason: `${pin.path}.mechanism pins ${pin.mechanism}, which this kernel lacks: ${f.reason}` }
  }
  const tcx = probeFeature('tcx')
  if (tcx.available) return { ok: true, mechanism: 'tcx' }
  const cls = probeFeature('cls-bpf')
  if (cls.available) return { ok: true, mechanism: 'cls-bpf' }
  return { ok: false, reason: `network faults need tcx links (kernel >= 6.6: ${tcx.reason}) or clsact + cls_bpf filters (${cls.reason})` }
}
