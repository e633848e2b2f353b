/** test/support/watch.ts: a wait on a process that is gone fails at once, saying how it ended and what it said. */
import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { watchProcess } from '../support/watch.js'

const sh = (script: string) => spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] })

describe('watchProcess', () => {
  it('gives stdout lines in order, and a matching line printed before the wait', async () => {
    const w = watchProcess(sh('echo one; echo two; echo ready; sleep 0.2; echo four'), 'printer')
    await w.exited
    expect(await w.line((l) => l === 'ready')).toBe('ready')
    expect([await w.next(), await w.next()]).toEqual(['one', 'two'])
  })

  // The timeouts are far beyond the test's own 30 s: only the exit can end these waits in time.
  it('rejects as soon as the process exits without the line, with its status and the end of its stderr', async () => {
    const w = watchProcess(sh('echo started; echo "Cannot find module x" >&2; exit 3'), 'the fixture')
    await expect(w.line((l) => l === 'ready', 600_000)).rejects.toThrow(/the fixture exited with status 3 before matching line; its stderr \(last lines\): Cannot find module x/)
    await expect(w.next(600_000)).resolves.toBe('started')
    await expect(w.next(600_000)).rejects.toThrow(/exited with status 3 before line 2/)
  })

  it('names the signal that killed it', async () => {
    const p = sh('echo "about to die" >&2; kill -SEGV $$')
    await expect(watchProcess(p, 'crasher').next(600_000)).rejects.toThrow(/crasher was killed by SIGSEGV before line 1; its stderr \(last lines\): about to die/)
  })

  it('says when the process is still running at the timeout', async () => {
    const p = sh('sleep 30')
    try {
      await expect(watchProcess(p, 'sleeper').next(50)).rejects.toThrow(/sleeper: no line 1 in 50 ms \(still running\)/)
    } finally {
      p.kill()
    }
  })
})
