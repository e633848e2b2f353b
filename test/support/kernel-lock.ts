/**
 * Test files that share a piece of kernel state must not run at the same time (Vitest runs two
 * files at a time): a named directory lock, held by the file's worker process for its whole run;
 * a dead holder's lock is taken over.
 *   - 'tc': files that compare the machine's tc state (qdiscs, filters, IFB devices) or
 *     faultline's state directory before and after, or add to either (from any network namespace:
 *     the directory is shared).
 *   - 'syscall-entry': files that hook syscall entries; a kprobe override is refused while
 *     another process has a trampoline on the same syscall (see engine/errno/sys-kprobe-backend.ts).
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

export function kernelLock(name: 'tc' | 'syscall-entry'): { acquire(): Promise<void>; release(): void } {
  const dir = path.join(os.tmpdir(), `faultline-${name}-tests.lock`)
  const holder = path.join(dir, 'pid')
  /** The holder's pid; NaN while it is being written, or when the holder released it just now (ENOENT). */
  const holderPid = (): number => {
    try {
      return Number(fs.readFileSync(holder, 'utf8'))
    } catch {
      return NaN
    }
  }
  return {
    async acquire() {
      for (;;) {
        try {
          fs.mkdirSync(dir)
          fs.writeFileSync(holder, String(process.pid))
          return
        } catch {
          const pid = holderPid()
          if (pid && !alive(pid)) fs.rmSync(dir, { recursive: true, force: true })
          await new Promise((r) => setTimeout(r, 200))
        }
      }
    },
    release() {
      if (holderPid() === process.pid) fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
