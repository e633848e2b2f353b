/**
 * Waiting on another process's output without waiting for a process that is gone: every wait
 * rejects as soon as the process exits, with its exit status and the last lines of its stderr.
 *
 *   const w = watchProcess(spawn('python3', [FLOW, 'recv']), 'flow.py recv')
 *   const port = Number(await w.next())            // lines in order, each read once
 *   await w.line((l) => l.includes('ready'))       // any line printed so far or to come
 *   const { code } = await w.exited
 *
 * Spawn with stderr piped ('pipe'): what the process said before it died is then in the error.
 */
import type { ChildProcess } from 'node:child_process'

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface Watched {
  /** The next stdout line not yet returned by `next`. */
  next(timeoutMs?: number): Promise<string>
  /** The first stdout line (already printed or to come) that `match` accepts. */
  line(match: (line: string) => boolean, timeoutMs?: number): Promise<string>
  /** Every complete stdout line so far. */
  lines: string[]
  stderr(): string
  exited: Promise<Exit>
}

/** The last lines of a process's output, for a failure message. */
export function tail(text: string, lines = 15): string {
  const all = text.trimEnd().split('\n')
  return (all.length > lines ? ['…', ...all.slice(-lines)] : all).join('\n') || '(empty)'
}

export function describeExit(e: Exit): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with status ${e.code}`
}

export function watchProcess(child: ChildProcess, label: string): Watched {
  const lines: string[] = []
  let partial = ''
  let stderr = ''
  let exit: Exit | undefined
  let read = 0
  const wakers = new Set<() => void>()
  const wake = () => {
    for (const w of [...wakers]) w()
  }
  child.stdout?.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    wake()
  })
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<Exit>((resolve) => {
    // 'close' comes after both streams ended: the output is complete when a waiter is told.
    child.on('close', (code, signal) => {
      if (partial) lines.push(partial)
      partial = ''
      exit = { code, signal }
      wake()
      resolve(exit)
    })
    child.on('error', (err) => {
      stderr += `spawn failed: ${err.message}\n`
    })
  })
  const gone = (what: string) =>
    new Error(`${label} ${describeExit(exit!)} before ${what}; its stderr (last lines): ${child.stderr ? tail(stderr) : '(not piped)'}\nstdout (last lines): ${tail(lines.join('\n'))}`)

  /** Resolves with `find()`'s value once it has one; rejects when the process exits first or after the timeout. */
  const waitFor = (find: () => string | undefined, what: string, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const stop = () => {
        clearTimeout(timer)
        wakers.delete(check)
      }
      const timer = setTimeout(() => {
        stop()
        reject(new Error(`${label}: no ${what} in ${timeoutMs} ms (still running); stderr (last lines): ${tail(stderr)}\nstdout: ${tail(lines.join('\n'))}`))
      }, timeoutMs)
      function check() {
        const found = find()
        if (found !== undefined) {
          stop()
          resolve(found)
        } else if (exit) {
          stop()
          reject(gone(what))
        }
      }
      wakers.add(check)
      check()
    })

  return {
    lines,
    stderr: () => stderr,
    exited,
    next: (timeoutMs = 120_000) => waitFor(() => (read < lines.length ? lines[read++] : undefined), `line ${read + 1}`, timeoutMs),
    line: (match, timeoutMs = 120_000) => waitFor(() => lines.find(match), 'matching line', timeoutMs),
  }
}
