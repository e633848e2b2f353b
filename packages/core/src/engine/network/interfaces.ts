/**
 * Which interfaces the network rules' TC programs (and shaping qdiscs) go on.
 */
import fs from 'node:fs'
import type { NormalizedNetworkRule } from '../../config/types.js'
import { FaultlineUnsupportedError } from '../errors.js'
import { isFaultlineIfb } from './shaping.js'

export interface NetDevice {
  name: string
  ifindex: number
}

/** Every interface that is up (lo included), or the rules' `interface`. */
export function selectInterfaces(rules: NormalizedNetworkRule[]): NetDevice[] {
  const wanted = new Set(rules.map((r) => r.interface).filter((x): x is string => !!x))
  const all = rules.some((r) => !r.interface)
  const out: NetDevice[] = []
  for (const name of fs.readdirSync('/sys/class/net')) {
    const state = fs.readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim()
    if (isFaultlineIfb(name) || !(wanted.has(name) || (all && (state === 'up' || state === 'unknown')))) continue
    out.push({ name, ifindex: Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')) })
  }
  for (const w of wanted) if (!out.some((i) => i.name === w)) throw new FaultlineUnsupportedError(`network rule interface ${w}: no such interface`)
  return out
}
