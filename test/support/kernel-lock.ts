/**
 * Test files that share a piece of kernel state must not run at the same time (Vitest runs two
 * files at a time): a named directory lock, held by the file's worker process for its whole run;
 * a dead holder's lock is taken over.
 *   - 'tc': files that compare the machine's tc state (qdiscs, filters, IFB devices) or
 *     faultline's state directory before and after, or add to either (from any network namespace:
 *     the directory is shared).
 *   - 'syscall-entry': files that hook syscall entries; a kprobe override is refused while
 *     another process has a trampoline on the same syscall (see engine/errno/sys-kprobe-backend.ts).
 * A file that needs both takes 'syscall-entry' first (one order everywhere: no deadlock).
 *
 * Waiters are served in the order they came (a ticket each): without that, the next file of the
 * other worker, which asks the moment the previous one released, always beat a file polling
 * for it, which then waited out several holders (debian-6.12 under load: arming.test.ts's
 * 600 s hook timeout passed behind network-shaping and network-faults).
 *
 *   const lock = kernelLock('tc'); beforeAll(lock.acquire, 600_000); afterAll(lock.release)
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A ticket's name: the monotonic clock (shared by every process of the machine), then the pid. */
const ticketName = () => `${process.hrtime.bigint().toString().padStart(20, '0')}-${process.pid}`
const ticketPid = (name: string) => Number(name.split('-')[1])

export function kernelLock(name: 'tc' | 'syscall-entry'): { acquire(): Promise<void>; release(): void } {
  const dir = path.join(os.tmpdir(), `faultline-${name}-tests.lock`)
  const queue = path.join(os.tmpdir(), `faultline-${name}-tests.queue`)
  const holder = path.join(dir, 'pid')
  /** The holder's pid; NaN while it is being written, or when the holder released it just now (ENOENT). */
  const holderPid = (): number => {
    try {
      return Number(fs.readFileSync(holder, 'utf8'))
    } catch {
      return NaN
    }
  }
  /** Whether `ticket` is the oldest ticket of a live process (dead waiters' tickets are removed). */
  const first = (ticket: string): boolean => {
    for (const t of fs.readdirSync(queue).sort()) {
      if (t === ticket) return true
      if (alive(ticketPid(t))) return false
      fs.rmSync(path.join(queue, t), { force: true })
    }
    return false
  }
  return {
    async acquire() {
      fs.mkdirSync(queue, { recursive: true })
      const ticket = ticketName()
      fs.writeFileSync(path.join(queue, ticket), '')
      try {
        for (;;) {
          if (first(ticket)) {
            try {
              fs.mkdirSync(dir)
              fs.writeFileSync(holder, String(process.pid))
              return
            } catch {
              const pid = holderPid()
              if (pid && !alive(pid)) fs.rmSync(dir, { recursive: true, force: true })
            }
          }
          await new Promise((r) => setTimeout(r, 200))
        }
      } finally {
        fs.rmSync(path.join(queue, ticket), { force: true })
      }
    },
    release() {
      if (holderPid() === process.pid) fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
