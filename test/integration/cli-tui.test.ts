/**
 * `faultline run`'s live view as a person sees it: the built bin in a real terminal (tmux, 120x30),
 * the pane captured and read. The command's output, the counters, pause, the final table and the
 * exit status are all checked on the screen.
 */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { skipBecause, skipUnless, skipUnlessAny } from '../support/requires.js'
import { startServer } from '../support/net.js'
import { tempDir } from '../support/temp-dir.js'

const BIN = fileURLToPath(new URL('../../packages/core/dist/cli/main.js', import.meta.url))
const LOOP = fileURLToPath(new URL('../fixtures/connect-loop.cjs', import.meta.url))
const LINES = 18

const tmux = (...args: string[]) => spawnSync('tmux', ['-L', `fl-tui-${process.pid}`, ...args], { encoding: 'utf8' })
const capture = (session: string) => tmux('capture-pane', '-p', '-t', session).stdout

/** Polls the pane until `pred` holds; returns that screen. */
async function waitFor(session: string, pred: (screen: string) => boolean, what: string, ms = 60_000): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    const screen = capture(session)
    if (pred(screen)) return screen
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${screen}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The live panel's counters of a rule: [seen, matched, fired], or undefined when not shown. */
function panelRow(screen: string, rule: string): number[] | undefined {
  const m = new RegExp(`^[> ] ${rule}\\s+cgroup\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)`, 'm').exec(screen)
  return m ? m.slice(1).map(Number) : undefined
}
const outputLines = (screen: string) => [...screen.matchAll(/^output-line-(\d+) (\S+)$/gm)].map((m) => ({ i: Number(m[1]), result: m[2]! }))
const lastLine = (screen: string) => Math.max(0, ...outputLines(screen).map((l) => l.i))

describe('faultline run on a terminal (tmux)', () => {
  it('keeps every output line, moves the counters, pauses the faults, ends with the table and the status', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    if (tmux('-V').status !== 0) skipBecause(ctx, 'requires tmux')
    const srv = await startServer()
    const dir = tempDir('fl-tui-')
    const cfg = path.join(dir, 'faults.yaml')
    fs.writeFileSync(cfg, `syscalls:\n  - name: refuse\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: ${srv.port} }\n  - name: never\n    syscall: bind\n    errno: EADDRINUSE\n    match: { port: 1 }\n`)
    const session = 'run'
    const cmd = `${process.execPath} ${BIN} run -c ${cfg} -- ${process.execPath} ${LOOP} ${srv.port} ${LINES} 400; echo EXIT=$?; sleep 600`
    expect(tmux('-u', 'new-session', '-d', '-s', session, '-x', '120', '-y', '30', cmd).status).toBe(0)
    try {
      // Counters move while faults fire.
      const early = await waitFor(session, (s) => lastLine(s) >= 2 && panelRow(s, 'refuse') !== undefined, 'two output lines')
      const later = await waitFor(session, (s) => (panelRow(s, 'refuse')?.[2] ?? 0) >= (panelRow(early, 'refuse')![2]! + 2), 'the fired counter to move')
      expect(later).toMatch(/-- faultline -- faults\.yaml -- armed/)
      expect(later).toMatch(/refuse: connect fails with ECONNREFUSED; match: port \d+/)
      expect(later).toMatch(/targets \(\d+\): .*\d+ node/)

      // Pause: the faults are disarmed, the command's connects get through, the count stands still.
      tmux('send-keys', '-t', session, 'Space')
      const paused = await waitFor(session, (s) => s.includes('PAUSED'), 'the pause')
      const firedAtPause = panelRow(paused, 'refuse')![2]!
      const linePaused = lastLine(paused)
      const inPause = await waitFor(session, (s) => lastLine(s) >= linePaused + 3, 'output during the pause')
      expect(panelRow(inPause, 'refuse')![2]).toBe(firedAtPause)
      // The connect in flight at the key press may have gone either way; the next ones got through.
      for (const l of outputLines(inPause).filter((x) => x.i >= linePaused + 2)) expect(l.result, `line ${l.i}`).toBe('ok')

      // Resume: armed again, firing again.
      tmux('send-keys', '-t', session, 'Space')
      const resumed = await waitFor(session, (s) => !s.includes('PAUSED'), 'the resume')
      const lineResumed = lastLine(resumed)
      const end = await waitFor(session, (s) => /EXIT=\d+/.test(s), 'the command to end')

      // Every line of the command's output is on the screen, once, in order.
      const lines = outputLines(end)
      expect(lines.map((l) => l.i)).toEqual(Array.from({ length: LINES }, (_, i) => i + 1))
      for (const l of lines.filter((x) => x.i >= lineResumed + 2)) expect(l.result, `line ${l.i}`).toBe('ECONNREFUSED')
      const refused = lines.filter((l) => l.result === 'ECONNREFUSED').length
      // The final table counts every firing of the run, across the pause.
      expect(end).toMatch(new RegExp(`^refuse\\s+connect\\s+cgroup\\s+\\d+\\s+${refused}\\s+${refused}$`, 'm'))
      expect(end).toMatch(/^never\s+bind\s+cgroup\s+0\s+0\s+0$/m)
      expect(end).toMatch(/exited with 0/)
      expect(end).toMatch(/EXIT=0/)
      expect(end).not.toMatch(/-- faultline --/) // the live panel is gone
      if (process.env.FL_TUI_SCREEN) fs.writeFileSync(process.env.FL_TUI_SCREEN, later)
    } finally {
      tmux('kill-server')
      await srv.close()
    }
  }, 120_000)

  it('follows a resize; q stops the command and disarms; the status is the signal\'s, 128+15', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    if (tmux('-V').status !== 0) skipBecause(ctx, 'requires tmux')
    const dir = tempDir('fl-tui-')
    const cfg = path.join(dir, 'faults.yaml')
    fs.writeFileSync(cfg, 'syscalls:\n  - name: refuse\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: 9 }\n')
    const session = 'quit'
    const cmd = `${process.execPath} ${BIN} run -c ${cfg} -- sh -c 'echo started; sleep 600'; echo EXIT=$?; sleep 600`
    expect(tmux('-u', 'new-session', '-d', '-s', session, '-x', '120', '-y', '30', cmd).status).toBe(0)
    try {
      await waitFor(session, (s) => s.includes('started') && s.includes('-- faultline --'), 'the live view')
      // Resizing: the panel is drawn again at the new bottom, once, and the output stays.
      const title = (s: string) => s.split('\n').filter((l) => l.startsWith('-- faultline --'))
      for (const [x, y] of [[90, 18], [120, 30]] as const) {
        tmux('resize-window', '-t', session, '-x', String(x), '-y', String(y))
        const screen = await waitFor(session, (s) => title(s).length === 1 && title(s)[0]!.length === x, `the panel at ${x}x${y}`)
        const rows = screen.replace(/\n$/, '').split('\n')
        expect(rows.length).toBe(y)
        expect(rows.findIndex((l) => l.startsWith('-- faultline --'))).toBe(y - 5) // 1 rule: a panel of 5 rows
        expect(screen).toMatch(/^started$/m)
      }
      tmux('send-keys', '-t', session, 'q')
      const end = await waitFor(session, (s) => /EXIT=\d+/.test(s), 'the command to stop')
      expect(end).toMatch(/EXIT=143/)
      expect(end).toMatch(/^refuse\s+connect\s+cgroup\s+0\s+0\s+0$/m)
    } finally {
      tmux('kill-server')
    }
  }, 120_000)

  it('shows every kind of rule in the panel: a delay rule and a DNS rule beside a syscall rule', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf', 'send-signal')
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    if (tmux('-V').status !== 0) skipBecause(ctx, 'requires tmux')
    const dir = tempDir('fl-tui-')
    const cfg = path.join(dir, 'faults.yaml')
    fs.writeFileSync(cfg, `syscalls:\n  - name: refuse\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: 9 }\n  - name: slow-open\n    syscall: openat\n    delay: 200ms\n    match: { path: ${dir}/slow }\ndns:\n  - name: api.example.com\n    answer: nxdomain\n`)
    const session = 'kinds'
    const cmd = `${process.execPath} ${BIN} run -c ${cfg} -- sh -c 'echo started; sleep 600'; echo EXIT=$?; sleep 600`
    expect(tmux('-u', 'new-session', '-d', '-s', session, '-x', '120', '-y', '30', cmd).status).toBe(0)
    try {
      const screen = await waitFor(session, (s) => s.includes('started') && s.includes('-- faultline --'), 'the live view')
      expect(screen).toMatch(/^[> ] refuse\s+cgroup\s+\d+/m)
      expect(screen).toMatch(/^[> ] slow-open\s+send-signal\s+\d+/m)
      expect(screen).toMatch(/^[> ] api\.example\.com\s+(tcx|cls_bpf)\s+\d+/m)
      expect(screen.split('\n').findIndex((l) => l.startsWith('-- faultline --'))).toBe(30 - 7) // 3 rules: a panel of 7 rows
      tmux('send-keys', '-t', session, 'q')
      await waitFor(session, (s) => /EXIT=\d+/.test(s), 'the command to stop')
    } finally {
      tmux('kill-server')
    }
  }, 120_000)
})
