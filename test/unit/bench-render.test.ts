/** The bench runner's collection of results and the docs it renders from them (test/bench/lib). */
import { describe, it, expect } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import fs from 'node:fs'
import path from 'node:path'
// @ts-expect-error: plain .mjs modules of the bench, without types
import { checkBench, collectRun, mergeRun, orderFigures, renderDocs, renderSvg } from '../bench/lib/render.mjs'
// @ts-expect-error: plain .mjs modules of the bench, without types
import { quantile, summarize, verdict } from '../bench/lib/measure.mjs'
// @ts-expect-error: plain .mjs modules of the bench, without types
import { benchFiles } from '../bench/run.mjs'

const fig = (name: string, unit: string, median: number, baseline: string | null = null, extra = {}) =>
  ({ name, unit, median, iqr: median / 10, q1: median * 0.95, q3: median * 1.05, n: 5, baseline, ...extra })
const bench = (name: string, figures: object[]) => ({ bench: name, title: `${name} title`, kernel: '6.18.0', machine: 'cpu, 2 cpus', figures, notes: ['a note'] })

describe('bench statistics', () => {
  it('interpolates quantiles and reports the IQR beside the median', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(summarize([1, 2, 3, 4, 5])).toMatchObject({ median: 3, q1: 2, q3: 4, iqr: 2, n: 5 })
  })
  it('says PASS or MISS and by how much', () => {
    expect(verdict({ median: 0.05, goal: { max: 0.1 } })).toMatch(/^PASS \(goal <= 0.1; 0.500x of it\)/)
    expect(verdict({ median: 0.3, goal: { max: 0.1 } })).toMatch(/^MISS \(goal <= 0.1; 3.00x over it\)/)
  })
})

describe('collecting a run', () => {
  it('keeps well-formed <bench>.json files and names what is wrong with the others', () => {
    const dir = tempDir('fl-render-')
    fs.writeFileSync(path.join(dir, 'good.json'), JSON.stringify(bench('good', [fig('base', 'ms', 2), fig('x', 'ms', 1, 'base')])))
    fs.writeFileSync(path.join(dir, 'badunit.json'), JSON.stringify(bench('badunit', [fig('a', 'parsecs', 1)])))
    fs.writeFileSync(path.join(dir, 'badbase.json'), JSON.stringify(bench('badbase', [fig('a', 'ms', 1, 'nope')])))
    fs.writeFileSync(path.join(dir, 'broken.json'), '{')
    fs.writeFileSync(path.join(dir, 'twice.json'), JSON.stringify(bench('twice', [fig('a', 'ms', 1), fig('a', 'ms', 2)])))
    const run = collectRun(dir)
    expect(run.benches.map((b: { bench: string }) => b.bench)).toEqual(['good'])
    const reasons = Object.fromEntries(run.failed.map((f: { bench: string; reason: string }) => [f.bench, f.reason]))
    expect(reasons.badunit).toMatch(/figures\[0\]\.unit: one of ns\/call, ms, us, MB\/s, ratio/)
    expect(reasons.badbase).toMatch(/figures\[0\]\.baseline: no figure named "nope"/)
    expect(reasons.broken).toMatch(/unreadable JSON/)
    expect(reasons.twice).toMatch(/figures\[1\]\.name: "a" is used twice/)
    expect(checkBench({ bench: 'x' })).toEqual(['figures: an array is required'])
  })
  it('a partial run replaces only the benches it ran', () => {
    const old = { name: 'host', benches: [bench('a', []), bench('b', [])], failed: [{ bench: 'c', reason: 'x' }] }
    const now = { name: 'host', benches: [{ ...bench('b', []), title: 'new b' }], failed: [] }
    const merged = mergeRun(old, now)
    expect(merged.benches.map((b: { bench: string; title: string }) => `${b.bench}:${b.title}`)).toEqual(['a:a title', 'b:new b'])
    expect(merged.failed).toEqual([{ bench: 'c', reason: 'x' }])
  })
  it('finds every bench script but the runner and its lib', () => {
    const names = benchFiles()
    expect(names).toEqual(expect.arrayContaining(['arm-disarm', 'network', 'syscall', 'tools', 'suite']))
    expect(names).not.toContain('run')
    expect(() => benchFiles(undefined, ['nosuch'])).toThrow(/--only: no bench named nosuch; benches are: .*arm-disarm/)
  })
})

describe('rendering', () => {
  const figures = [fig('x vs b2', 'ms', 3, 'b2'), fig('b1', 'ms', 1), fig('b2', 'ms', 2), fig('x vs b1', 'ms', 4, 'b1')]
  it('puts each figure right after its baseline', () => {
    expect(orderFigures(figures).map((f: { name: string }) => f.name)).toEqual(['b1', 'x vs b1', 'b2', 'x vs b2'])
  })
  it('draws a bar per figure with IQR whiskers, a goal line and PASS/MISS', () => {
    const svg = renderSvg([fig('r <ok>', 'ratio', 0.05, null, { goal: { max: 0.1 } }), fig('r2', 'ratio', 0.5, null, { goal: { max: 0.1 } })], { title: 't' })
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('r &lt;ok&gt;')
    expect(svg.match(/<rect /g)).toHaveLength(3) // background + 2 bars
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(2)
    expect(svg).toContain('0.050 PASS')
    expect(svg).toContain('0.500 MISS')
  })
  it('switches to a log scale when the figures span more than 30x', () => {
    expect(renderSvg([fig('a', 'ns/call', 100), fig('b', 'ns/call', 100000, 'a')])).toContain('(log scale)')
    expect(renderSvg([fig('a', 'ns/call', 100), fig('b', 'ns/call', 200, 'a')])).not.toContain('(log scale)')
  })
  it('renders the goals, each run labelled with machine and kernel, tables and SVG links', () => {
    const host = { name: 'host', vm: false, kernel: '6.18.0', machine: 'EPYC, 2 cpus', date: 'd', benches: [bench('arm', [fig('spawn', 'ms', 2), fig('arm', 'ms', 0.5, 'spawn'), fig('arm / spawn', 'ratio', 0.25, null, { goal: { max: 0.1 } })])], failed: [{ bench: 'net', reason: 'exit 1' }] }
    const vm = { name: 'fei-6.12', vm: true, kernel: '6.12.117', machine: 'QEMU', host: 'EPYC', date: 'd', benches: [bench('tools', [fig('bare', 'ns/call', 100), fig('strace | x', 'ns/call', 9000, 'bare')])], failed: [] }
    const { markdown, svgs } = renderDocs([host, vm])
    expect(markdown).toContain('| host | arm / spawn | 0.250 | 0.025 | ≤ 0.1 | MISS (goal <= 0.1; 2.50x over it) |')
    expect(markdown).toContain('## host: Linux 6.18.0 on EPYC, 2 cpus')
    expect(markdown).toContain('## VM fei-6.12: Linux 6.12.117 under QEMU TCG on EPYC')
    expect(markdown).toContain('| &nbsp;&nbsp;arm | 0.500 | 0.050 | ms | 5 | 0.250x |')
    expect(markdown).toContain('strace \\| x')
    expect(markdown).toContain('- **net failed**: exit 1')
    expect(Object.keys(svgs).sort()).toEqual(['fei-6-12-tools-ns-call.svg', 'host-arm-ms.svg', 'host-arm-ratio.svg'])
    expect(markdown).toContain('![arm, ms, host](perf/host-arm-ms.svg)')
  })
})
