/**
 * The live view of `faultline run` on a terminal: the command's output scrolls in the top region
 * (a DECSTBM scroll region, so it is never overwritten), and a panel at the bottom shows one row
 * per rule (mechanism, seen, matched, fired, a sparkline of firings per second), the selected
 * rule's detail and the target processes. `panelLines` is pure (tested on its own); `Screen`
 * owns the escape sequences. Every write is one write() call, so the command's output and the
 * panel never interleave.
 */

export interface RuleRow {
  name: string
  mechanism: string
  seen: number
  matched: number
  fired: number
  /** Firings per second, oldest first, one per second since arming. */
  perSecond: number[]
  /** What the rule does, for the detail line: match, when, errno. */
  detail: string
}

export interface View {
  title: string
  elapsedMs: number
  paused: boolean
  rules: RuleRow[]
  selected: number
  /** The target processes now, and the latest arrivals / departures ("+123 sh", "-120 curl"). */
  targets: { pid: number; comm: string }[]
  events: string[]
}

const BARS = '▁▂▃▄▅▆▇█'

/** One character per value: blank for 0, else a bar scaled to the largest value shown. */
export function sparkline(values: number[], width: number): string {
  const shown = width > 0 ? values.slice(-width) : []
  const max = Math.max(1, ...shown)
  return shown.map((v) => (v <= 0 ? ' ' : BARS[Math.min(BARS.length - 1, Math.ceil((v / max) * BARS.length) - 1)]!)).join('')
}

const clip = (s: string, width: number) => ([...s].length > width ? [...s].slice(0, Math.max(0, width - 1)).join('') + '…' : s)

/** The panel's lines, each at most `width` columns, `height` lines at most (rules scroll to keep
 * the selected one in view). ANSI inverse video marks the selected rule. */
export function panelLines(view: View, width: number, height: number): string[] {
  const state = view.paused ? 'PAUSED (faults disarmed)' : 'armed'
  const head = `-- faultline -- ${view.title} -- ${state} ${(view.elapsedMs / 1000).toFixed(1)}s -- q quit  space ${view.paused ? 'resume' : 'pause'}  up/down select `
  const lines = [clip(head, width).padEnd(width, '-')]
  const cols = ['rule', 'mechanism', 'seen', 'matched', 'fired']
  const cells = view.rules.map((r) => [r.name, r.mechanism, String(r.seen), String(r.matched), String(r.fired)])
  const w = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)))
  const fmt = (row: string[]) => row.map((c, i) => (i >= 2 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ')
  const lead = `  ${fmt(cols)}  `
  lines.push(clip(`${lead}fired/s`, width))
  const sparkWidth = Math.max(0, width - lead.length)
  const room = Math.max(1, height - 4)
  const first = Math.min(Math.max(0, view.selected - room + 1), Math.max(0, view.rules.length - room))
  view.rules.slice(first, first + room).forEach((r, i) => {
    const sel = first + i === view.selected
    const text = clip(`${sel ? '>' : ' '} ${fmt(cells[first + i]!)}  ${sparkline(r.perSecond, sparkWidth)}`, width)
    lines.push(sel ? `\x1b[7m${text.padEnd(width)}\x1b[0m` : text)
  })
  const sel = view.rules[view.selected]
  lines.push(clip(sel ? `  ${sel.name}: ${sel.detail}` : '', width))
  const targets = view.targets.map((t) => `${t.pid} ${t.comm}`).join(', ')
  const events = view.events.length ? `   (${view.events.slice(-4).join(' ')})` : ''
  lines.push(clip(`  targets (${view.targets.length}): ${view.paused ? '-' : targets || 'none yet'}${events}`, width))
  return lines.slice(0, height)
}

/** The rows the panel needs for `rules` rules on a terminal of `rows` rows (0: too small). */
export function panelHeight(rules: number, rows: number): number {
  const want = rules + 4
  const max = rows - 3 // keep at least 3 rows for the command's output
  return max >= 5 ? Math.min(want, max) : 0
}

interface Terminal {
  readonly rows: number
  readonly columns: number
  write(s: string): unknown
}

export class Screen {
  private height = 0
  private atLineStart = true

  constructor(
    private readonly term: Terminal,
    private readonly rules: number,
  ) {}

  /** Makes room for the panel below the cursor and confines scrolling to the rows above it. */
  start(): void {
    this.height = panelHeight(this.rules, this.term.rows)
    this.term.write(this.reserve())
  }

  private reserve(): string {
    const top = this.term.rows - this.height
    // Scroll the screen up if the cursor is in the panel's rows, then set the region (which
    // homes the cursor) between a save and a restore of the cursor.
    return `${'\n'.repeat(this.height)}\x1b[${this.height}A\x1b7\x1b[1;${top}r\x1b8`
  }

  /** The command's output, in the scroll region. */
  output(chunk: Buffer | string): void {
    const text = chunk.toString()
    if (!text) return
    this.atLineStart = text.endsWith('\n')
    this.term.write(text)
  }

  draw(view: View): void {
    if (!this.height) return
    const top = this.term.rows - this.height + 1
    const lines = panelLines(view, this.term.columns, this.height)
    let s = '\x1b7'
    for (let i = 0; i < this.height; i++) s += `\x1b[${top + i};1H\x1b[2K${lines[i] ?? ''}`
    this.term.write(`${s}\x1b8`)
  }

  /** After a terminal resize: a new region for the new size, the panel redrawn by the next draw. */
  resize(): void {
    this.height = panelHeight(this.rules, this.term.rows)
    // The terminal has moved its lines (and the cursor with them); the command's output is all at
    // or above the cursor, so what is below it is the old panel, wherever it went. Back to a
    // full-screen region with the cursor kept, clear below it, then reserve the panel again.
    this.term.write(`\x1b7\x1b[r\x1b8\x1b[J${this.reserve()}`)
  }

  /** Gives the whole screen back: region reset, panel erased; the cursor below the output. */
  stop(): void {
    this.term.write(`\x1b7\x1b[r\x1b8\x1b[J${this.atLineStart ? '' : '\n'}`)
    this.height = 0
  }
}
