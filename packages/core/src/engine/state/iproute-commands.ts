/**
 * iproute2 (`tc`, `ip`): what libbpf cannot do (list filters, qdiscs other than clsact, IFB
 * devices). These are helper processes: callers run them only while no fault is live (arming's
 * prepare step, disarm's clear step, cleanup), so no rule of the test can break them.
 */
import { FaultlineUnsupportedError } from '../errors.js'
import { explainDenied, runIproute } from './iproute-runner.js'
import { netDevice, netDeviceNames } from '../../kernel/netdev.js'

export type Tool = 'tc' | 'ip'

/** Runs `tool -j args` and parses its JSON; throws naming the command. */
export function iprouteJson<T>(tool: Tool, args: string[]): T[] {
  const r = runIproute(tool, ['-j', ...args])
  if (r.error) throw new Error(`${tool} ${args.join(' ')}: ${r.error.message} (install iproute2)`)
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`)
  return r.stdout.trim() ? (JSON.parse(r.stdout) as T[]) : []
}

/** Runs commands in one process (`-batch -`); throws with the failing command's error. */
export function batch(tool: Tool, commands: string[], what: string): void {
  if (!commands.length) return
  const r = runIproute(tool, ['-batch', '-'], commands.join('\n') + '\n')
  if (r.error) throw new FaultlineUnsupportedError(`${what}: cannot run ${tool} (${r.error.message}); install iproute2`)
  if (r.status !== 0) throw new FaultlineUnsupportedError(`${what}: ${tool} failed: ${(r.stderr || r.stdout).trim()}${explainDenied(r.stderr)}\n  commands: ${commands.join('; ')}`)
}

/** Best effort (undoing, sweeping: one failure must not stop the rest); returns whether all succeeded. */
export function quietly(tool: Tool, commands: string[]): boolean {
  if (!commands.length) return true
  const r = runIproute(tool, ['-force', '-batch', '-'], commands.join('\n') + '\n')
  return !r.error && r.status === 0
}

export interface Qdisc {
  kind: string
  handle: string
  dev: string
  root?: boolean
  parent?: string
  options?: { default?: string | number }
}

/** Every qdisc of this network namespace. */
export function listQdiscs(dev?: string): Qdisc[] {
  return iprouteJson<Qdisc>('tc', ['qdisc', 'show', ...(dev ? ['dev', dev] : [])]).map((q) => ({ ...q, dev: q.dev ?? dev ?? '' }))
}

/** The root qdisc's handle ("0:" = the kernel's default), or undefined when tc cannot say. */
export function rootQdisc(dev: string): Qdisc | undefined {
  try {
    const list = listQdiscs(dev)
    return list.find((q) => q.root) ?? list[0]
  } catch {
    return undefined
  }
}

export interface ListedFilter {
  pref: number
  kind: string
  handle: number
}

function filterRows(dev: string, direction: 'ingress' | 'egress') {
  return iprouteJson<{ pref?: number; kind?: string; options?: { handle?: string } }>('tc', ['filter', 'show', 'dev', dev, direction])
}

/** The filters of one side of a clsact qdisc (any kind, not only faultline's). */
export function listFilters(dev: string, direction: 'ingress' | 'egress'): ListedFilter[] {
  // Each classifier instance is listed once without options, then each of its filters with them.
  return filterRows(dev, direction)
    .filter((r) => r.options)
    .map((r) => ({ pref: r.pref ?? 0, kind: r.kind ?? '', handle: Number(r.options?.handle ?? 0) }))
}

/** Whether the interface's clsact holds nothing at all, on either side. */
export function clsactEmpty(dev: string): boolean {
  return filterRows(dev, 'ingress').length === 0 && filterRows(dev, 'egress').length === 0
}

/** The interface names of this network namespace (kernel/netdev.ts: not sysfs, which may show another). */
export const netDevices = netDeviceNames

export function ifindexOf(dev: string): number | undefined {
  return netDevice(dev)?.ifindex
}
