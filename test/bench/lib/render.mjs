// Turns bench JSON into docs: collects one run's <bench>.json files, and renders
// docs/performance.md with one SVG bar chart per bench, unit and run (median bars, IQR whiskers,
// each figure right after its baseline; ratio goals drawn as a dashed line). No dependencies.
import fs from 'node:fs'
import path from 'node:path'
import { fmt, verdict } from './measure.mjs'

const UNITS = ['ns/call', 'ms', 'us', 'MB/s', 'ratio', 'faults/op']

/** Checks one bench result; returns a list of problems (empty when it is well-formed). */
export function checkBench(b) {
  const errs = []
  if (!b || typeof b !== 'object') return ['not an object']
  if (typeof b.bench !== 'string' || !b.bench) errs.push('bench: a non-empty string is required')
  if (!Array.isArray(b.figures)) return [...errs, 'figures: an array is required']
  const names = new Set(b.figures.map((f) => f?.name))
  b.figures.forEach((f, i) => {
    if (typeof f?.name !== 'string') errs.push(`figures[${i}].name: a string is required`)
    else if (b.figures.findIndex((g) => g?.name === f.name) !== i) errs.push(`figures[${i}].name: ${JSON.stringify(f.name)} is used twice (baselines are named)`)
    if (!UNITS.includes(f?.unit)) errs.push(`figures[${i}].unit: one of ${UNITS.join(', ')} is required, got ${JSON.stringify(f?.unit)}`)
    for (const k of ['median', 'iqr']) if (typeof f?.[k] !== 'number') errs.push(`figures[${i}].${k}: a number is required`)
    if (f?.baseline != null && !names.has(f.baseline)) errs.push(`figures[${i}].baseline: no figure named ${JSON.stringify(f.baseline)}`)
  })
  return errs
}

/** Reads every <bench>.json of one run's output directory; malformed files come back as failures. */
export function collectRun(dir) {
  const benches = []
  const failed = []
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    let b
    try {
      b = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))
    } catch (err) {
      failed.push({ bench: file.replace(/\.json$/, ''), reason: `unreadable JSON: ${err.message}` })
      continue
    }
    const errs = checkBench(b)
    if (errs.length) failed.push({ bench: b?.bench ?? file, reason: errs.join('; ') })
    else benches.push(b)
  }
  return { benches, failed }
}

/** Merges a new run into an earlier one of the same kernel: benches run now replace theirs. */
export function mergeRun(old, run) {
  if (!old) return run
  const now = new Set([...run.benches.map((b) => b.bench), ...run.failed.map((f) => f.bench)])
  return {
    ...run,
    benches: [...old.benches.filter((b) => !now.has(b.bench)), ...run.benches].sort((a, b) => a.bench.localeCompare(b.bench)),
    failed: [...(old.failed ?? []).filter((f) => !now.has(f.bench)), ...run.failed],
  }
}

/** Figures in drawing order: each baseline followed by the figures measured against it. */
export function orderFigures(figures) {
  const out = []
  const seen = new Set()
  const add = (f) => {
    if (seen.has(f.name)) return
    seen.add(f.name)
    out.push(f)
    for (const g of figures) if (g.baseline === f.name) add(g)
  }
  for (const f of figures) if (!f.baseline || !figures.some((g) => g.name === f.baseline)) add(f)
  for (const f of figures) add(f)
  return out
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

/** One horizontal bar chart of figures that share a unit. */
export function renderSvg(figures, { title = '', unit = figures[0]?.unit ?? '' } = {}) {
  const rows = orderFigures(figures)
  const W = 960, LABEL = 470, PLOT = 380, ROW = 24, TOP = title ? 34 : 12, AXIS = 30
  const lo = (f) => f.q1 ?? f.median - f.iqr / 2
  const hi = (f) => f.q3 ?? f.median + f.iqr / 2
  const vals = rows.flatMap((f) => [f.median, hi(f), f.goal?.max ?? 0]).filter((v) => Number.isFinite(v) && v > 0)
  const max = Math.max(...vals, 1e-9)
  const min = Math.min(...vals, max)
  const log = min > 0 && max / min > 30
  const lmin = log ? Math.floor(Math.log10(min * 0.9)) : 0 // a goal of exactly 0.1 stays off the axis
  const lmax = log ? Math.ceil(Math.log10(max)) : 0
  const x = (v) => {
    if (!(v > 0)) return LABEL
    return LABEL + (log ? ((Math.log10(v) - lmin) / Math.max(lmax - lmin, 1)) * PLOT : (v / max) * PLOT)
  }
  const H = TOP + rows.length * ROW + AXIS
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`]
  if (title) out.push(`<text x="8" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`)
  const ticks = log ? Array.from({ length: lmax - lmin + 1 }, (_, i) => 10 ** (lmin + i)) : [0, max / 4, max / 2, (3 * max) / 4, max]
  const yAxis = TOP + rows.length * ROW
  for (const t of ticks) {
    const tx = t === 0 ? LABEL : x(t)
    out.push(`<line x1="${tx.toFixed(1)}" y1="${TOP - 4}" x2="${tx.toFixed(1)}" y2="${yAxis}" stroke="#ddd"/>`,
      `<text x="${tx.toFixed(1)}" y="${yAxis + 14}" text-anchor="middle" fill="#555">${esc(fmt(t))}</text>`)
  }
  out.push(`<text x="${LABEL + PLOT}" y="${yAxis + 27}" text-anchor="end" fill="#555">${esc(unit)}${log ? ' (log scale)' : ''}</text>`)
  rows.forEach((f, i) => {
    const y = TOP + i * ROW
    const isBase = !f.baseline && f.unit !== 'ratio'
    const color = f.goal ? (f.median <= f.goal.max ? '#3a9a4a' : '#c8453c') : isBase ? '#9a9a9a' : '#4878b0'
    const indent = f.baseline ? 14 : 0
    out.push(`<text x="${LABEL - 8}" y="${y + 15}" text-anchor="end"${f.baseline ? '' : ' font-weight="bold"'}>${esc(clip(f.name, 72 - indent / 7))}</text>`)
    const bx = x(log ? Math.max(f.median, 10 ** lmin) : f.median)
    out.push(`<rect x="${LABEL}" y="${y + 4}" width="${Math.max(bx - LABEL, 1).toFixed(1)}" height="${ROW - 8}" fill="${color}"><title>${esc(`${f.name}: median ${fmt(f.median)} ${f.unit}, IQR ${fmt(f.iqr)}`)}</title></rect>`)
    const w1 = x(Math.max(lo(f), log ? 10 ** lmin : 0)), w2 = x(hi(f))
    if (w2 - w1 > 0.5) out.push(`<line x1="${w1.toFixed(1)}" y1="${y + ROW / 2}" x2="${w2.toFixed(1)}" y2="${y + ROW / 2}" stroke="#222"/>`,
      `<line x1="${w1.toFixed(1)}" y1="${y + 7}" x2="${w1.toFixed(1)}" y2="${y + ROW - 7}" stroke="#222"/>`,
      `<line x1="${w2.toFixed(1)}" y1="${y + 7}" x2="${w2.toFixed(1)}" y2="${y + ROW - 7}" stroke="#222"/>`)
    if (f.goal) {
      const gx = x(f.goal.max)
      out.push(`<line x1="${gx.toFixed(1)}" y1="${y + 1}" x2="${gx.toFixed(1)}" y2="${y + ROW - 1}" stroke="#000" stroke-dasharray="3,2"/>`)
    }
    const label = `${fmt(f.median)}${f.goal ? (f.median <= f.goal.max ? ' PASS' : ' MISS') : ''}`
    out.push(`<text x="${Math.max(bx, w2) + 6}" y="${y + 15}">${esc(label)}</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
const cell = (s) => String(s).replace(/\|/g, '\\|')

/** The run's heading: which machine and kernel, and whether it was emulated. */
export function runLabel(run) {
  return run.vm ? `VM ${run.name}: Linux ${run.kernel} under QEMU TCG on ${run.host ?? 'the host'}` : `host: Linux ${run.kernel} on ${run.machine}`
}

/** The method section of performance.md: how per-test costs are charged (arm-disarm.mjs, network.mjs). */
const METHOD = [
  '## Method: what an arming is charged',
  '',
  'An arm + disarm is compared with a `spawnSync(\'/bin/true\')` measured in the same process, the',
  'armer (`test/bench/lib/armer.mjs`): a Node process that loaded faultline and has no child of its own',
  'between requests, as a test file\'s worker has none. Each round runs each state once, in random order;',
  'a state is a batch of back-to-back ops of one kind (50 arm+disarm, 20 spawns), each op timed on its',
  'own, and the figure is the median over rounds of the batch\'s mean per op, with its IQR. Within a batch',
  'every op follows one of its own kind, so each is charged what it leaves behind: the page faults and',
  'cold caches a spawn leaves fall on the next spawn, not on the arming measured after it.',
  '',
  'What an arming costs right after other work is measured beside it, not hidden: the same arm+disarm',
  'timed right after an untimed `spawnSync`, and after 5 ms of busy work; a control workload unrelated',
  'to faultline (300 small allocations, 40 `fstat()`, a JSON stringify) timed the same three ways; and',
  'the minor page faults (getrusage) of each op. Right after a spawn an arming takes some 30',
  'copy-on-write faults more than back to back (`spawnSync` forks: libuv uses fork+exec), but after',
  '5 ms of busy work, with no fault at all, it is slower still: the faults are a small part of it. The',
  'rest is cold caches: after other work the arming\'s path through V8, koffi and the kernel\'s bpf code',
  'is no longer cached (the small control slows down much less). That is a real cost a test pays when',
  'it arms right after other work, and the after-spawn and after-busy-work figures, with their ratio to',
  'a spawn, give it. The goal figure is the back-to-back one because its baseline, the spawn, is',
  'measured back to back too, in the same process, so both are charged alike. Since 2026-12-05 the',
  'goals are on the default mode (every window attaches what it needs and detaches it after), right',
  'after a spawn (as in a suite) and back to back; the opt-in mode that keeps links between windows',
  '(`FAULTLINE_KEEP_LINKS=on`) is measured beside it.',
  '',
  'The bystanders\' baseline is a machine where no program of faultline is attached anywhere (the',
  'armer in the default mode, its kept links released): an attached cgroup socket program, on whatever',
  'cgroup, switches on the kernel\'s static key for its hook, and from then on every connect() on the',
  'machine enters the cgroup BPF code, even in a process whose cgroup has no program. So a bystander',
  'pays while another process is armed, and between tests only when that process keeps its links;',
  'both modes are shown. Switching the key on and off is also what a detaching window pays: each',
  'hook type it attaches is patched into the kernel\'s text at attach and out at detach.',
  '',
  'A live child of the arming process (a server started in `beforeAll`) makes each arming walk the',
  'kernel\'s tasks to seed the target set (`engine/targets.ts`): that case has its own figure.',
  'Before the 2026-12-02 runs the bench armed in its own process while its armer child lived, so every',
  'arming it measured walked; its figures of earlier runs are not comparable.',
]

/**
 * Renders performance.md and its SVGs for the given runs ({ name, kernel, machine, vm, host?, date,
 * benches, failed }). Returns { markdown, svgs: { <file>: text } }; svgDir is relative to the md.
 */
export function renderDocs(runs, { svgDir = 'perf' } = {}) {
  const svgs = {}
  const md = ['# Performance', '',
    '<!-- generated by `npm run bench` (test/bench/run.mjs) from docs/bench/*.json: do not edit by hand -->', '',
    'Every figure is the median over rounds in which all states of a bench ran once each, in random order,',
    'with the interquartile range (IQR) beside it; every figure is drawn right after the baseline it was',
    'measured against in the same run (grey bar: baseline; blue: measured against it; green/red: a ratio',
    'goal met/missed, the goal a dashed line; whiskers: IQR). Absolute times differ 3-15x between machines;',
    'compare ratios within one run only. VM runs are emulated (QEMU TCG, no KVM): their absolute figures',
    'are many times slower than hardware and only their ratios mean something.', '', ...METHOD, '']
  const goals = runs.flatMap((r) => r.benches.flatMap((b) => b.figures.filter((f) => f.goal).map((f) => ({ run: r, f }))))
  if (goals.length) {
    md.push('## Goals', '', '| run | figure | median | IQR | goal | verdict |', '|---|---|---|---|---|---|')
    for (const { run, f } of goals) md.push(`| ${cell(run.name)} | ${cell(f.name)} | ${fmt(f.median)} | ${fmt(f.iqr)} | ≤ ${f.goal.max} | ${cell(verdict(f))} |`)
    md.push('')
  }
  for (const run of runs) {
    md.push(`## ${runLabel(run)}`, '', `Run ${run.date ?? ''}${run.node ? `, node ${run.node}` : ''}; raw JSON: [bench/${run.name}.json](bench/${run.name}.json).`, '')
    for (const b of run.benches) {
      md.push(`### ${b.title ?? b.bench}`, '', `\`test/bench/${b.bench}.mjs\` on ${b.kernel ?? run.kernel}, ${b.machine ?? run.machine}${b.loadavg ? `; load average ${b.loadavg.join(', ')} (1, 5, 15 min) when it ended` : ''}`, '')
      const rows = orderFigures(b.figures)
      if (rows.length) {
        md.push('| figure | median | IQR | unit | n | vs baseline |', '|---|---|---|---|---|---|')
        for (const f of rows) {
          const base = f.baseline ? b.figures.find((g) => g.name === f.baseline) : undefined
          const rel = f.goal ? verdict(f) : base ? `${fmt(f.median / base.median)}x` : ''
          md.push(`| ${f.baseline ? '&nbsp;&nbsp;' : ''}${cell(f.name)} | ${fmt(f.median)} | ${fmt(f.iqr)} | ${f.unit} | ${f.n ?? ''} | ${cell(rel)} |`)
        }
        md.push('')
      }
      for (const n of b.notes ?? []) md.push(`- ${n}`)
      if (b.notes?.length) md.push('')
      const units = [...new Set(rows.map((f) => f.unit))]
      for (const unit of units) {
        const file = `${slug(run.name)}-${slug(b.bench)}-${slug(unit)}.svg`
        svgs[file] = renderSvg(rows.filter((f) => f.unit === unit), { title: `${b.bench} (${run.name}): ${unit}`, unit })
        md.push(`![${b.bench}, ${unit}, ${run.name}](${svgDir}/${file})`, '')
      }
    }
    for (const f of run.failed ?? []) md.push(`- **${f.bench} failed**: ${cell(f.reason)}`)
    if (run.failed?.length) md.push('')
  }
  return { markdown: `${md.join('\n').replace(/\n+$/, '')}\n`, svgs }
}

/** Writes performance.md and the SVGs under docsDir from every docsDir/bench/*.json (host first). */
export function writeDocs(docsDir) {
  const benchDir = path.join(docsDir, 'bench')
  const runs = fs.readdirSync(benchDir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(benchDir, f), 'utf8')))
    .sort((a, b) => (a.name === 'host' ? -1 : b.name === 'host' ? 1 : a.name.localeCompare(b.name)))
  const { markdown, svgs } = renderDocs(runs)
  const svgDir = path.join(docsDir, 'perf')
  fs.rmSync(svgDir, { recursive: true, force: true })
  fs.mkdirSync(svgDir, { recursive: true })
  for (const [file, text] of Object.entries(svgs)) fs.writeFileSync(path.join(svgDir, file), text)
  fs.writeFileSync(path.join(docsDir, 'performance.md'), markdown)
  return { markdown, files: Object.keys(svgs) }
}
