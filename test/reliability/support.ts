/** Shared by the reliability suite: scaled counts, a seeded PRNG, figures, the machine's name. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const FIGURES_DIR = path.join(ROOT, '.test-results', 'reliability')
export const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url))
export const CORE = path.join(ROOT, 'packages/core/dist/index.js')
export const CLI = path.join(ROOT, 'packages/core/dist/cli/main.js')

/** FAULTLINE_RELIABILITY_SCALE (default 1) times the count the issue asks for, at least `min`. */
export const SCALE = Number(process.env.FAULTLINE_RELIABILITY_SCALE ?? 1)
export function scaled(full: number, min = 1): number {
  return Math.max(min, Math.round(full * SCALE))
}

export { prng } from '../support/prng.js'
export const SEED = Number(process.env.FAULTLINE_RELIABILITY_SEED ?? 11)

export function machine(): { kernel: string; cpus: string; node: string; host: string } {
  return { kernel: `${os.type()} ${os.release()}`, cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`, node: process.version, host: os.hostname() }
}

/** Writes one section's figures (read by scripts/reliability-report.mjs). */
export function recordFigures(section: string, figures: Record<string, unknown>): void {
  fs.mkdirSync(FIGURES_DIR, { recursive: true })
  const data = { section, run: process.env.FAULTLINE_RELIABILITY_RUN ?? 'unnamed', date: new Date().toISOString(), scale: SCALE, seed: SEED, machine: machine(), ...figures }
  fs.writeFileSync(path.join(FIGURES_DIR, `${section}.json`), JSON.stringify(data, null, 2) + '\n')
}

/** Lines of a child's stdout, one promise per line in order. */
export function lineReader(stream: NodeJS.ReadableStream): { next(timeoutMs?: number): Promise<string>; all: string[] } {
  const lines: string[] = []
  const all: string[] = []
  const waiters: ((l: string) => void)[] = []
  let buf = ''
  stream.on('data', (d: Buffer) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      all.push(line)
      const w = waiters.shift()
      if (w) w(line)
      else lines.push(line)
    }
  })
  stream.on('end', () => {
    for (const w of waiters.splice(0)) w('')
  })
  return {
    all,
    next(timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        if (lines.length) return resolve(lines.shift()!)
        const t = setTimeout(() => reject(new Error(`no line from the child in ${timeoutMs} ms; it printed: ${all.slice(-5).join(' | ')}`)), timeoutMs)
        waiters.push((l) => (clearTimeout(t), resolve(l)))
      })
    },
  }
}
