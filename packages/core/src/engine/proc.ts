/** Reads the process table from /proc: parents, comms, descendants of a process. */
import fs from 'node:fs'

export interface ProcEntry {
  pid: number
  ppid: number
  comm: string
}

/** One pass over /proc/<pid>/stat. Processes that vanish mid-walk are skipped. */
export function readProcTable(): ProcEntry[] {
  const out: ProcEntry[] = []
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid <= 0) continue
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      continue
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    const rest = stat.slice(close + 2).split(' ')
    out.push({ pid, comm: stat.slice(open + 1, close), ppid: Number(rest[1]) })
  }
  return out
}

/** All descendants of `root` in one snapshot of the table. */
export function descendantsOf(root: number, table: ProcEntry[]): ProcEntry[] {
  const children = new Map<number, ProcEntry[]>()
  for (const e of table) {
    const list = children.get(e.ppid)
    if (list) list.push(e)
    else children.set(e.ppid, [e])
  }
  const out: ProcEntry[] = []
  const queue = [root]
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c)
      queue.push(c.pid)
    }
  }
  return out
}
