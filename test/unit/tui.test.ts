/** The live view's renderer (cli/tui.ts): the panel's text, and the escape sequences that keep the
 * command's output in its scroll region. The end-to-end view is tested in tmux (cli-tui.test.ts). */
import { describe, it, expect } from 'vitest'
import { panelHeight, panelLines, Screen, sparkline, type View } from '../../packages/core/src/cli/tui.js'

const view = (over: Partial<View> = {}): View => ({
  title: 'f.yaml',
  elapsedMs: 2500,
  paused: false,
  rules: [
    { name: 'db-down', mechanism: 'cgroup', seen: 12, matched: 10, fired: 7, perSecond: [0, 2, 5], detail: 'connect fails with ECONNREFUSED' },
    { name: 'slow', mechanism: 'lsm', seen: 0, matched: 0, fired: 0, perSecond: [0, 0, 0], detail: 'openat fails with EIO' },
  ],
  selected: 1,
  targets: [{ pid: 42, comm: 'node' }],
  events: ['+42 node'],
  ...over,
})

describe('sparkline', () => {
  it('scales to the largest value shown, blank for zero, newest last', () => {
    expect(sparkline([0, 1, 2, 4, 8], 10)).toBe(' ▁▂▄█')
    expect(sparkline([8, 8, 1], 2)).toBe('█▁')
    expect(sparkline([], 5)).toBe('')
  })
})

describe('panelLines', () => {
  it('a title with the state, a header, one row per rule, the selected rule\'s detail, the targets', () => {
    const lines = panelLines(view(), 100, 20)
    expect(lines).toHaveLength(6)
    expect(lines[0]).toMatch(/^-- faultline -- f\.yaml -- armed 2\.5s -- q quit {2}space pause/)
    expect(lines[0]).toHaveLength(100)
    expect(lines[1]).toMatch(/rule {5}mechanism {2}seen {2}matched {2}fired {2}fired\/s/)
    expect(lines[2]).toMatch(/^ {2}db-down {2}cgroup +12 +10 +7 {3}▄█$/)
    expect(lines[3]).toMatch(/^\x1b\[7m> slow/) // selected: inverse video
    expect(lines[4]).toBe('  slow: openat fails with EIO')
    expect(lines[5]).toBe('  targets (1): 42 node   (+42 node)')
  })
  it('shows the pause', () => {
    expect(panelLines(view({ paused: true }), 100, 20)[0]).toMatch(/PAUSED \(faults disarmed\).*space resume/)
  })
  it('fits the width and the height, scrolling the rules to keep the selected one', () => {
    const many = view({ rules: Array.from({ length: 10 }, (_, i) => ({ ...view().rules[0]!, name: `r${i}` })), selected: 8 })
    const lines = panelLines(many, 40, 7)
    expect(lines).toHaveLength(7) // title, header, 3 of the 10 rules, detail, targets
    expect(lines.every((l) => l.replace(/\x1b\[\d*m/g, '').length <= 40)).toBe(true)
    expect(lines.slice(2).join('\n')).toMatch(/> r8/)
  })
  it('needs at least 3 rows for the output and 5 for itself', () => {
    expect(panelHeight(2, 30)).toBe(6)
    expect(panelHeight(40, 30)).toBe(27)
    expect(panelHeight(2, 7)).toBe(0)
  })
})

describe('Screen', () => {
  const term = () => {
    const out: string[] = []
    return { rows: 30, columns: 120, write: (s: string) => out.push(s), out }
  }
  it('confines the output to the rows above the panel and draws the panel with the cursor saved', () => {
    const t = term()
    const s = new Screen(t, 2)
    s.start()
    expect(t.out[0]).toBe(`${'\n'.repeat(6)}\x1b[6A\x1b7\x1b[1;24r\x1b8`)
    s.output('hello\n')
    expect(t.out[1]).toBe('hello\n') // the command's bytes, untouched
    s.draw(view())
    expect(t.out[2]).toMatch(/^\x1b7\x1b\[25;1H\x1b\[2K-- faultline/)
    expect(t.out[2]).toMatch(/\x1b\[30;1H\x1b\[2K {2}targets.*\x1b8$/)
    s.stop()
    expect(t.out[3]).toBe('\x1b7\x1b[r\x1b8\x1b[J') // region reset, panel erased
  })
  it('on a resize, clears what is below the cursor (the old panel, wherever the terminal moved it) and reserves again', () => {
    const t = term()
    const s = new Screen(t, 2)
    s.start()
    Object.assign(t, { rows: 18, columns: 90 })
    s.resize()
    expect(t.out.at(-1)).toBe(`\x1b7\x1b[r\x1b8\x1b[J${'\n'.repeat(6)}\x1b[6A\x1b7\x1b[1;12r\x1b8`)
  })
  it('ends an unfinished output line before giving the screen back', () => {
    const t = term()
    const s = new Screen(t, 1)
    s.start()
    s.output('no newline')
    s.stop()
    expect(t.out.at(-1)).toBe('\x1b7\x1b[r\x1b8\x1b[J\n')
  })
})
