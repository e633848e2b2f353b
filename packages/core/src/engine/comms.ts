/**
 * The comm bits: each process name a config names gets a bit (fl_comms), a target carries the
 * bit of its comm (fl_target.comm_bits), a socket the bits of the targets that marked it, and a
 * rule with `comm` (Minderbinder's rules name their processes) a mask of its names' bits.
 * With a target.comm filter the bits are the filter's names (a rule naming another process could
 * never fire: refused). Without one, the rules' names get bits of their own; the filter flag stays
 * off, so they only tell rules apart and make nobody a target.
 */
import type { FailureConfig } from '../config/types.js'
import { FL_MAX_COMMS } from './shared-layout.js'

export function commBits(config: FailureConfig): Map<string, number> {
  const names = config.target.comm.length
    ? config.target.comm
    : [...new Set([...config.syscalls, ...config.network].flatMap((r) => r.comm ?? []))]
  return new Map(names.slice(0, FL_MAX_COMMS).map((c, i) => [c, (1 << i) >>> 0]))
}

export function commMask(comms: string[] | undefined, bits: Map<string, number>): number {
  return (comms ?? []).reduce((m, c) => (m | (bits.get(c) ?? 0)) >>> 0, 0)
}

/** Why the rules' comm lists cannot be served, per rule (empty when they can). */
export function planComms(config: FailureConfig): { path: string; name: string; reason: string }[] {
  const refused: { path: string; name: string; reason: string }[] = []
  const named = new Set([...config.syscalls, ...config.network].flatMap((r) => r.comm ?? []))
  if (!config.target.comm.length && named.size > FL_MAX_COMMS) {
    refused.push({ path: 'comm', name: '', reason: `the rules name ${named.size} processes; at most ${FL_MAX_COMMS}` })
  }
  if (!config.target.comm.length) return refused
  for (const r of config.network) {
    const missing = (r.comm ?? []).filter((c) => !config.target.comm.includes(c))
    if (missing.length) {
      refused.push({ path: `${r.path}.comm`, name: r.name, reason: `${missing.join(', ')} not in target.comm (${config.target.comm.join(', ')}): only those processes are targets, so this rule could never fire` })
    }
  }
  return refused
}
