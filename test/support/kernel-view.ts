/**
 * The kernel's own view of BPF objects, for "nothing attached" and "nothing left behind" checks:
 * what a process holds (its fds' fdinfo), and what exists machine-wide (bpftool).
 */
import fs from 'node:fs'
import { execFileSync } from 'node:child_process'

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

/** Every BPF program, map and link id on the machine. */
export function liveBpfIds(): BpfIds {
  const ids = (kind: string) =>
    (JSON.parse(execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8' }) || '[]') as { id: number }[]).map((e) => e.id)
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
