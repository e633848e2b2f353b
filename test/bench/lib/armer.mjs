// A process that arms on request: the bench's own children are bystanders, outside its target tree,
// as another worker or a database would be. It also measures what arming costs a test process:
// it has no child of its own between requests, as a test file's worker has none (a live child
// makes every arming walk the kernel's tasks: the 'arm' op's withChild measures that case apart).
// stdin lines, one reply line each:
//   `arm <config json>` -> `armed <mechanism,...>`; `disarm` -> `disarmed`
//   `{"op": ...}` -> `{"ok": <result>}` or `{"error": "..."}`; ops below (OPS)
// EOF exits.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import readline from 'node:readline'
import { arm, validateConfig } from '../../../packages/core/dist/index.js'
import { releaseKeptLinks } from '../../../packages/core/dist/engine/kept-links.js'

const ru = () => process.resourceUsage().minorPageFault

/** What runs, untimed, before each timed op: nothing, a spawnSync, or 5 ms of busy work (no page faults). */
const BEFORE = {
  none: () => {},
  spawn: () => spawnSync('/bin/true'),
  busy: () => { const t = performance.now(); while (performance.now() - t < 5); },
}

/** A fixed mix of JS allocations and 40 cheap syscalls, unrelated to faultline: the control. */
function control() {
  const o = []
  for (let i = 0; i < 300; i++) o.push({ a: i, b: Buffer.alloc(24) })
  for (let i = 0; i < 40; i++) fs.fstatSync(0)
  return JSON.stringify(o.slice(0, 50)).length
}

/**
 * `n` timed calls of `op`, each after `before` (untimed): mean ms per op and mean minor page
 * faults per op (getrusage around each op, outside the timed part).
 */
function timed(op, n, before = 'none') {
  const pre = BEFORE[before]
  if (!pre) throw new Error(`before: ${before}? (${Object.keys(BEFORE).join(', ')})`)
  let ns = 0n
  let faults = 0
  for (let i = 0; i < n; i++) {
    pre()
    const f0 = ru()
    const t0 = process.hrtime.bigint()
    op()
    ns += process.hrtime.bigint() - t0
    faults += ru() - f0
  }
  return { ms: Number(ns) / 1e6 / n, faults: faults / n }
}

const mechanisms = (session) => Object.values(session.handle.stats()).map((r) => r.mechanism)

/** Links kept between armings (FAULTLINE_KEEP_LINKS=on) or, the default, detached after each. */
function keepMode(keep) {
  if (keep) process.env.FAULTLINE_KEEP_LINKS = 'on'
  else {
    delete process.env.FAULTLINE_KEEP_LINKS
    releaseKeptLinks()
  }
}

const OPS = {
  /** The mechanisms serving a config's rules on this kernel (armed and disarmed once). */
  mechanisms: ({ config }) => { const s = arm(validateConfig(config)); try { return mechanisms(s) } finally { s.disarm() } },
  /** spawnSync('/bin/true') `n` times back to back. */
  spawn: ({ n }) => timed(() => spawnSync('/bin/true'), n),
  /**
   * arm + disarm of `config` `n` times, each after `before`; withChild: while a child of this
   * process lives; keep: with links kept between armings (the opt-in), else detached after each
   * (the default). The mode stays set for later ops.
   */
  arm: async ({ config, n, before = 'none', withChild = false, keep = false }) => {
    const cfg = validateConfig(config)
    keepMode(keep)
    const child = withChild ? spawn('sleep', ['1000'], { stdio: 'ignore' }) : undefined
    try {
      if (child) await new Promise((r) => child.once('spawn', r))
      arm(cfg).disarm() // untimed: with keep, after a 'release' the links are attached again here, as at a first arming
      return timed(() => arm(cfg).disarm(), n, before)
    } finally {
      if (child) { child.kill(); await new Promise((r) => child.once('exit', r)) }
    }
  },
  /** Sets the mode for the line ops (`arm <config>`, `disarm`): keep links between armings or not. */
  mode: ({ keep }) => keepMode(keep),
  /** The control workload `n` times, each after `before`. */
  control: ({ n, before = 'none' }) => timed(control, n, before),
  /** Destroys this process's kept links and returns to the default mode: no program of faultline stays attached (the bystanders' baseline). */
  release: () => keepMode(false),
  /** Runs `argv` (its stdout, a number) while `config` is armed here: the program is a target. */
  armedRun: ({ config, argv }) => {
    const s = arm(validateConfig(config))
    try { return Number(execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' })) } finally { s.disarm() }
  },
}

let session
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.startsWith('{')) {
    try {
      const req = JSON.parse(line)
      const op = OPS[req.op]
      if (!op) throw new Error(`no op ${req.op}`)
      process.stdout.write(`${JSON.stringify({ ok: await op(req) })}\n`)
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ error: String(err?.message ?? err) })}\n`)
    }
    continue
  }
  try {
    if (line.startsWith('arm ')) {
      session = arm(validateConfig(JSON.parse(line.slice(4))))
      process.stdout.write(`armed ${mechanisms(session).join(',')}\n`)
    } else if (line === 'disarm') {
      session?.disarm()
      session = undefined
      process.stdout.write('disarmed\n')
    }
  } catch (err) {
    process.stdout.write(`error ${String(err?.message ?? err).replace(/\n/g, ' ')}\n`)
  }
}
process.exit(0)
