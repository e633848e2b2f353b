/**
 * What cls_bpf filters leave on the machine, and who may remove it. Unlike bpf_links, clsact
 * qdiscs and cls_bpf filters survive the process that made them, so faultline tags them and
 * keeps a little state under /run/faultline (FAULTLINE_STATE_DIR overrides it):
 *   tc.lock                    flock'ed around every change, so two processes arming at once
 *                              never delete a qdisc the other is attaching to
 *   owner-<pid>                the owner's start time: a reused pid is not mistaken for it
 *   clsact-<netns>-<ifindex>   faultline created this clsact qdisc: remove it once it is empty
 * Filters are listed with iproute2's `tc -j` (libbpf cannot dump them).
 */
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { getNative } from './native.js'

const LOCK_EX = 2
const LOCK_UN = 8

export function stateDir(): string {
  return process.env.FAULTLINE_STATE_DIR || '/run/faultline'
}

function ensureDir(): string {
  const dir = stateDir()
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 })
  } catch (err) {
    throw new Error(`cls_bpf: create the state directory ${dir}: ${(err as Error).message} (set FAULTLINE_STATE_DIR to a writable directory)`)
  }
  return dir
}

let lockDepth = 0
let lockFd = -1

/** Runs fn holding the machine-wide tc lock (reentrant within this process). */
export function withTcLock<T>(fn: () => T): T {
  if (lockDepth === 0) {
    lockFd = fs.openSync(path.join(ensureDir(), 'tc.lock'), 'a')
    if (getNative().libc.flock(lockFd, LOCK_EX) !== 0) {
      fs.closeSync(lockFd)
      throw new Error(`cls_bpf: lock ${path.join(stateDir(), 'tc.lock')}: flock failed`)
    }
  }
  lockDepth++
  try {
    return fn()
  } finally {
    if (--lockDepth === 0) {
      getNative().libc.flock(lockFd, LOCK_UN)
      fs.closeSync(lockFd)
      lockFd = -1
    }
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined if gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

const ownerFile = (pid: number) => path.join(stateDir(), `owner-${pid}`)

export function claimOwner(): void {
  fs.writeFileSync(path.join(ensureDir(), `owner-${process.pid}`), startTime(process.pid) ?? '')
}

export function releaseOwner(): void {
  fs.rmSync(ownerFile(process.pid), { force: true })
}

/** Whether the process that tagged a filter with this pid still runs (and is the same process). */
export function ownerAlive(pid: number): boolean {
  const now = startTime(pid)
  if (now === undefined) return false
  let recorded: string | undefined
  try {
    recorded = fs.readFileSync(ownerFile(pid), 'utf8')
  } catch {
    return true // no record: trust the pid
  }
  return recorded === '' || recorded === now
}

/** Records of owners that no longer run, for the sweep to delete. */
export function deadOwnerRecords(): number[] {
  const dir = stateDir()
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .map((f) => /^owner-(\d+)$/.exec(f)?.[1])
    .filter((p): p is string => !!p)
    .map(Number)
    .filter((pid) => !ownerAlive(pid))
}

export function forgetOwner(pid: number): void {
  fs.rmSync(ownerFile(pid), { force: true })
}

// --- clsact qdiscs faultline created, per network namespace (ifindexes are per namespace)

function netns(): number {
  return fs.statSync('/proc/self/ns/net').ino
}
const markerFile = (ifindex: number) => path.join(stateDir(), `clsact-${netns()}-${ifindex}`)

export function markCreated(ifindex: number, name: string): void {
  fs.writeFileSync(path.join(ensureDir(), path.basename(markerFile(ifindex))), name)
}
export function isCreated(ifindex: number): boolean {
  return fs.existsSync(markerFile(ifindex))
}
export function unmarkCreated(ifindex: number): void {
  fs.rmSync(markerFile(ifindex), { force: true })
}
/** Interfaces of this namespace whose clsact faultline created. */
export function createdClsacts(): number[] {
  const dir = stateDir()
  if (!fs.existsSync(dir)) return []
  const prefix = `clsact-${netns()}-`
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .map((f) => Number(f.slice(prefix.length)))
}

// --- the kernel's view, through iproute2

function tcJson(args: string[]): unknown[] {
  const r = spawnSync('tc', ['-j', ...args], { encoding: 'utf8', timeout: 10_000 })
  if (r.error) throw new Error(`cls_bpf: tc ${args.join(' ')}: ${r.error.message} (iproute2 is needed to list tc filters)`)
  if (r.status !== 0) throw new Error(`cls_bpf: tc ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`)
  return r.stdout.trim() ? (JSON.parse(r.stdout) as unknown[]) : []
}

export interface ListedFilter {
  pref: number
  kind: string
  handle: number
}

/** Interfaces of this namespace that have a clsact qdisc. */
export function clsactDevices(): { name: string; ifindex: number }[] {
  const out: { name: string; ifindex: number }[] = []
  for (const q of tcJson(['qdisc', 'show']) as { kind?: string; dev?: string }[]) {
    if (q.kind !== 'clsact' || !q.dev) continue
    try {
      out.push({ name: q.dev, ifindex: Number(fs.readFileSync(`/sys/class/net/${q.dev}/ifindex`, 'utf8')) })
    } catch {
      // the interface vanished meanwhile
    }
  }
  return out
}

function filterRows(dev: string, direction: 'ingress' | 'egress') {
  return tcJson(['filter', 'show', 'dev', dev, direction]) as { pref?: number; kind?: string; options?: { handle?: string } }[]
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
