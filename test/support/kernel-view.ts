/**
 * The kernel's own view of BPF objects, for "nothing attached" and "nothing left behind" checks:
 * what a process holds (its fds' fdinfo), and what exists machine-wide (bpftool).
 */
import fs from 'node:fs'
import { execFileSync, spawnSync } from 'node:child_process'
import { sleepSync } from '../../packages/core/src/sleep-sync.js'

export interface BpfIds {
  progs: number[]
  maps: number[]
  links: number[]
}

/** The BPF programs, maps and links a process holds through its fds. */
export function bpfIdsOf(pid: number | 'self' = 'self'): BpfIds {
  const out: BpfIds = { progs: [], maps: [], links: [] }
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target: string
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      continue
    }
    if (!target.startsWith('anon_inode:bpf')) continue
    let info: string
    try {
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
    } catch {
      continue
    }
    const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(info)?.[1])
    if (target === 'anon_inode:bpf-prog') out.progs.push(field('prog_id'))
    else if (target === 'anon_inode:bpf-map') out.maps.push(field('map_id'))
    else if (target === 'anon_inode:bpf_link') out.links.push(field('link_id'))
  }
  return out
}

/**
 * `bpftool -j <args>`, parsed. A link another process is attaching at that moment has an id but
 * is not settled: the kernel answers EAGAIN for it and bpftool's `link show` fails outright
 * ("can't get link by id (N): Resource temporarily unavailable"; 82 of 300 listings on the
 * 6.18 host while another process armed in a loop). That is asked again; any other failure
 * throws with bpftool's own words.
 */
export function bpftoolJson<T>(args: string[]): T {
  for (let tries = 1; ; tries++) {
    const r = spawnSync('bpftool', ['-j', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
    if (r.status === 0) return JSON.parse(r.stdout.trim() || 'null') as T
    const said = `${r.stdout}${r.stderr}`.trim()
    if (!/Resource temporarily unavailable/.test(said) || tries >= 100) throw new Error(`bpftool -j ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${said}`)
    sleepSync(10)
  }
}

/** Every BPF program, map and link id on the machine. */
export function liveBpfIds(): BpfIds {
  const ids = (kind: string) => (bpftoolJson<{ id: number }[] | null>([kind, 'show']) ?? []).map((e) => e.id)
  return { progs: ids('prog'), maps: ids('map'), links: ids('link') }
}

/** Which of `ids` still exist, polling up to `ms` (the kernel frees programs lazily: about 2 s, longer under load). */
export async function survivors(ids: BpfIds, ms = 10_000): Promise<BpfIds> {
  const deadline = Date.now() + ms
  for (;;) {
    const live = liveBpfIds()
    const left: BpfIds = {
      progs: ids.progs.filter((i) => live.progs.includes(i)),
      maps: ids.maps.filter((i) => live.maps.includes(i)),
      links: ids.links.filter((i) => live.links.includes(i)),
    }
    if ((left.progs.length + left.maps.length + left.links.length === 0) || Date.now() > deadline) return left
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The pids of a process and all its descendants (from /proc's parent links). */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>()
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8')
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root]
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parent) if (ppid === tree[i]) tree.push(pid)
  return tree
}

/**
 * The bpf_links a process tree holds that attach a program somewhere (every type but `iter`:
 * faultline keeps its seeding iterator for a process's life; it is attached to nothing).
 */
export function attachedLinksOfTree(root: number): { pid: number; type: string }[] {
  const out: { pid: number; type: string }[] = []
  for (const pid of processTree(root)) {
    let fds: string[] = []
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf_link') continue
        const type = /^link_type:\s*(\S+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '?'
        if (type !== 'iter') out.push({ pid, type })
      } catch {
        // closed meanwhile
      }
    }
  }
  return out
}

/**
 * What a faultline arming can leave on the machine, as the kernel (and iproute2) show it: the
 * BPF links and programs a process holds, every qdisc, every tc filter of every interface's
 * clsact hooks, faultline's IFB devices (flifb*) and the files of faultline's state directory.
 * Compare two of these with toEqual; take the 'tc' kernel lock (kernel-lock.ts) meanwhile.
 */
export interface KernelView {
  links: number[]
  progs: number[]
  qdiscs: string
  filters: Record<string, string>
  ifbs: string[]
  stateFiles: string[]
}

/**
 * A helper's output (tc, ip, nsenter). One that fails throws: reading its silence as "nothing
 * there" would pass a residue check blindly. A device gone between listing and asking is not a failure.
 */
export function helperOutput(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.status === 0) return r.stdout
  if (/Cannot find device/.test(r.stderr ?? '')) return ''
  throw new Error(`${[cmd, ...args].join(' ')} failed (${r.error?.message ?? (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`)}): ${(r.stderr ?? '').trim()}`)
}
const run = helperOutput

export function stateDir(): string {
  return process.env.FAULTLINE_STATE_DIR || '/run/faultline'
}

export function kernelView(pid: number | 'self' = 'self'): KernelView {
  const ifaces = fs.readdirSync('/sys/class/net').sort()
  const filters: Record<string, string> = {}
  for (const dev of ifaces) {
    const f = ['ingress', 'egress'].map((hook) => run('tc', ['filter', 'show', 'dev', dev, hook])).join('')
    if (f) filters[dev] = f
  }
  const held = bpfIdsOf(pid)
  return {
    links: held.links.sort((a, b) => a - b),
    progs: held.progs.sort((a, b) => a - b),
    qdiscs: run('tc', ['qdisc', 'show']).replace(/ direct_packets_stat \d+/g, ''), // a counter, not state
    filters,
    ifbs: ifaces.filter((d) => d.startsWith('flifb')),
    stateFiles: fs.existsSync(stateDir()) ? fs.readdirSync(stateDir()).filter((f) => f !== 'tc.lock').sort() : [],
  }
}

/** tc state and devices of this network namespace (or a named one) as iproute2 prints them: qdiscs, the filters on every clsact, IFB devices. */
export function tcState(netns?: string): { qdiscs: string; filters: string; ifbs: string[] } {
  const wrap = netns ? `nsenter --net=/run/netns/${netns} ` : ''
  const sh = (cmd: string) => execFileSync('sh', ['-c', wrap + `sh -c '${cmd}'`], { encoding: 'utf8' })
  const qdiscs = sh('tc qdisc show')
  const clsacts = [...qdiscs.matchAll(/^qdisc clsact \S+ dev (\S+)/gm)].map((m) => m[1]!)
  const filters = clsacts.map((d) => `${d}: ${sh(`tc filter show dev ${d} ingress; tc filter show dev ${d} egress`)}`).join('\n')
  // (sysfs shows the namespace it was mounted in: ask the kernel through iproute2 instead)
  const ifbs = netns ? [...sh('ip -o link show').matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]!) : fs.readdirSync('/sys/class/net')
  return { qdiscs, filters, ifbs: ifbs.filter((d) => d.startsWith('flifb')) }
}

/** Every key and value of some BPF maps, as hex, for "exactly as before" checks. */
export function mapContents(maps: { name: string; keys(): Buffer[]; lookup(k: Buffer): Buffer | undefined }[]): Record<string, Record<string, string>> {
  return Object.fromEntries(maps.map((m) => [m.name, Object.fromEntries(m.keys().map((k) => [k.toString('hex'), m.lookup(k)?.toString('hex') ?? '-']))]))
}

/**
 * Where two views differ, one line per changed leaf ("maps.fl_targets.0a000000: 01.. -> (none)"),
 * so a failed "exactly as before" check names what changed: toEqual's message elides nested
 * objects. Empty when they are equal.
 */
export function viewDiff(before: unknown, after: unknown, at = ''): string[] {
  const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v))
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
  if (isObj(before) && isObj(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    return keys.flatMap((k) => viewDiff(before[k], after[k], at ? `${at}.${k}` : k))
  }
  if (typeof before === 'string' && typeof after === 'string' && before.includes('\n') && before !== after) {
    // multi-line text (tc's output): the lines only one side has (a mere reordering is no change)
    const a = before.split('\n')
    const b = after.split('\n')
    return [...a.filter((l) => !b.includes(l)).map((l) => `${at}: - ${l}`), ...b.filter((l) => !a.includes(l)).map((l) => `${at}: + ${l}`)]
  }
  return Object.is(before, after) ? [] : [`${at}: ${show(before)} -> ${show(after)}`]
}
