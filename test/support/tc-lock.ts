/**
 * Test files that compare the machine's tc state (qdiscs, filters, IFB devices) before and after
 * must not run while another such file arms network rules: Vitest runs two files at a time.
 * A directory lock held by the file's worker process for its whole run; a dead holder's lock
 * is taken over.
 *
 *   beforeAll(lockTcState, 600_000); afterAll(unlockTcState)
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const LOCK = path.join(os.tmpdir(), 'faultline-tc-tests.lock')
const holder = path.join(LOCK, 'pid')

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export async function lockTcState(): Promise<void> {
  for (;;) {
    try {
      fs.mkdirSync(LOCK)
      fs.writeFileSync(holder, String(process.pid))
      return
    } catch {
      const pid = Number(fs.existsSync(holder) ? fs.readFileSync(holder, 'utf8') : NaN)
      if (pid && !alive(pid)) fs.rmSync(LOCK, { recursive: true, force: true })
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

export function unlockTcState(): void {
  if (fs.existsSync(holder) && Number(fs.readFileSync(holder, 'utf8')) === process.pid) fs.rmSync(LOCK, { recursive: true, force: true })
}
