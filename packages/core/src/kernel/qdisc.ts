/**
 * Qdisc and TC classifier features (netem, tbf, ifb, cls_bpf). Placeholder answers until the
 * network faults land: they probe nothing and say so, so no caller mistakes them for a "no".
 */
import type { FeatureResult } from './features.js'

export type QdiscFeature = 'cls-bpf' | 'netem' | 'tbf' | 'ifb'

export function probeQdiscFeature(feature: QdiscFeature): FeatureResult {
  return { feature, available: false, reason: 'not probed yet (network faults are not built yet)' }
}
